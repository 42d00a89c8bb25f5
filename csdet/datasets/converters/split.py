"""Deterministic stratified splits (depend on the seed and names only)."""
from __future__ import annotations

import math
import random
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple, TypeVar

from .records import NEGATIVE, ImageRecord, natural_key

T = TypeVar('T')


def take_quota(groups: List[List[T]], quota: int,
               rng_key: str) -> Tuple[List[T], List[T]]:
    """Shuffle ``groups`` in place with ``random.Random(rng_key)``, then take
    whole groups while they fit in ``quota`` items; return (taken, rest).

    A group that would overshoot is skipped, so the taken count reaches the
    quota whenever some choice of groups can; the caller checks
    ``len(taken) == quota``.
    """
    random.Random(rng_key).shuffle(groups)
    taken: List[T] = []
    rest: List[T] = []
    for group in groups:
        if len(taken) + len(group) <= quota:
            taken.extend(group)
        else:
            rest.extend(group)
    return taken, rest


def round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def allocate(sizes: Sequence[int], total: int) -> List[int]:
    """Share ``total`` (<= sum(sizes)) items among strata of ``sizes`` in
    proportion (largest remainders; ties go to the earlier stratum)."""
    available = sum(sizes)
    if not 0 <= total <= available:
        raise ValueError(f'cannot take {total} of {available} items')
    ideal = [size * total / available if available else 0 for size in sizes]
    counts = [int(math.floor(v)) for v in ideal]
    order = sorted(range(len(sizes)),
                   key=lambda i: (-(ideal[i] - counts[i]), i))
    for index in order[:total - sum(counts)]:
        counts[index] += 1
    return counts


def split_by_fractions(records: Sequence[ImageRecord],
                       test_fraction: float,
                       val_fraction: float = 0.0,
                       seed: int = 0,
                       strata_order: Sequence[str] = ()
                       ) -> Dict[str, List[ImageRecord]]:
    """Split stratified by ``record.stratum`` (None = images without boxes,
    a stratum of their own) into ``train``, ``val``, ``test``.

    Of N images, round(N * test_fraction) go to test and round(N *
    val_fraction) to val, shared among the strata in proportion to their
    (remaining) size, see allocate(); within a stratum they are chosen by
    an RNG seeded with (seed, stratum). Strata come in ``strata_order``,
    then by name.
    Raises ValueError on fractions outside [0, 1) or summing to >= 1.
    """
    for name, value in (('test', test_fraction), ('val', val_fraction)):
        if not 0 <= value < 1:
            raise ValueError(f'--{name}-fraction must be in [0, 1), got '
                             f'{value}')
    if test_fraction + val_fraction >= 1:
        raise ValueError('--test-fraction + --val-fraction must be < 1 (got '
                         f'{test_fraction} + {val_fraction}), leaving '
                         'images to train on')
    strata: Dict[Optional[str], List[ImageRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: natural_key(r.stem)):
        strata[record.stratum].append(record)
    known = [s for s in strata_order if s in strata]
    order = known + sorted((s for s in strata if s not in known),
                           key=lambda s: (s is None, s or ''))
    sizes = [len(strata[stratum]) for stratum in order]
    total = sum(sizes)
    test_counts = allocate(sizes, round_half_up(total * test_fraction))
    val_counts = allocate([n - t for n, t in zip(sizes, test_counts)],
                          round_half_up(total * val_fraction))
    parts: Dict[str, List[ImageRecord]] = dict(train=[], val=[], test=[])
    for stratum, num_test, num_val in zip(order, test_counts, val_counts):
        members = strata[stratum]
        name = NEGATIVE if stratum is None else stratum
        test, rest = take_quota([[r] for r in members], num_test,
                                f'split:{seed}:{name}:test')
        val, train = take_quota([[r] for r in rest], num_val,
                                f'split:{seed}:{name}:val')
        parts['test'] += test
        parts['val'] += val
        parts['train'] += train
    by_name = lambda r: natural_key(r.stem)  # noqa: E731
    return {split: sorted(members, key=by_name)
            for split, members in parts.items()}
