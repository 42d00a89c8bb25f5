"""csdet.datasets.converters.split: quotas, shares, stratified fractions."""
from collections import Counter
from pathlib import Path

import pytest

from csdet.datasets.converters.records import Box, ImageRecord
from csdet.datasets.converters.split import (allocate, split_by_fractions,
                                             take_quota)


def records(strata):
    """ImageRecords named r<i>; strata: list of stratum (None = negative)."""
    return [ImageRecord(f'r{i}', Path(f'r{i}.png'), 8, 8,
                        [] if s is None else [Box(s, (0, 0, 1, 1))],
                        stratum=s)
            for i, s in enumerate(strata)]


def test_take_quota_keeps_groups_whole_and_exact():
    groups = [[1, 2, 3], [4], [5, 6], [7], [8]]
    taken, rest = take_quota([list(g) for g in groups], 4, 'k')
    assert len(taken) == 4 and sorted(taken + rest) == list(range(1, 9))
    for group in groups:  # a group is never split
        assert set(group) <= set(taken) or set(group) <= set(rest)
    assert take_quota([list(g) for g in groups], 4, 'k') == (taken, rest)
    taken, _ = take_quota([[1, 2], [3, 4]], 3, 'k')
    assert len(taken) == 2  # unreachable: the caller sees the shortfall


@pytest.mark.parametrize('sizes, total, expected', [
    ([10, 10, 10], 6, [2, 2, 2]),
    ([7, 2, 1], 3, [2, 1, 0]),  # ideals 2.1, 0.6, 0.3
    ([1, 1, 1], 2, [1, 1, 0]),  # ties go to the earlier stratum
    ([5, 0, 5], 5, [3, 0, 2]),
    ([3], 0, [0]),
])
def test_allocate_largest_remainder(sizes, total, expected):
    assert allocate(sizes, total) == expected


def test_allocate_refuses_too_many():
    with pytest.raises(ValueError, match='cannot take 4 of 3'):
        allocate([1, 2], 4)


def test_split_by_fractions_totals_strata_and_determinism():
    strata = ['a'] * 20 + ['b'] * 12 + ['c'] * 4 + [None] * 4
    parts = split_by_fractions(records(strata), 0.25, 0.1, seed=3,
                               strata_order=('c', 'b', 'a'))
    assert [len(parts[s]) for s in ('train', 'val', 'test')] == [26, 4, 10]
    counts = {split: Counter(r.stratum for r in members)
              for split, members in parts.items()}
    assert counts['test'] == {'a': 5, 'b': 3, 'c': 1, None: 1}
    names = sorted(r.stem for members in parts.values() for r in members)
    assert names == sorted(f'r{i}' for i in range(40))
    again = split_by_fractions(list(reversed(records(strata))), 0.25, 0.1,
                               seed=3, strata_order=('c', 'b', 'a'))
    assert {s: [r.stem for r in m] for s, m in again.items()} == {
        s: [r.stem for r in m] for s, m in parts.items()}
    other = split_by_fractions(records(strata), 0.25, 0.1, seed=4,
                               strata_order=('c', 'b', 'a'))
    assert [r.stem for r in other['test']] != [r.stem for r in parts['test']]


@pytest.mark.parametrize('test, val, message', [
    (1.0, 0.0, r'--test-fraction must be in \[0, 1\)'),
    (0.2, -0.1, r'--val-fraction must be in \[0, 1\)'),
    (0.5, 0.5, 'must be < 1'),
])
def test_split_by_fractions_refuses_bad_fractions(test, val, message):
    with pytest.raises(ValueError, match=message):
        split_by_fractions(records(['a'] * 4), test, val)
