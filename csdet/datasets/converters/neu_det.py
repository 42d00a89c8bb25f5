"""NEU-DET (Pascal VOC XML) to COCO with its stratified split.

Input layouts (detected automatically):

* original release: ``<src>/IMAGES/*.jpg`` + ``<src>/ANNOTATIONS/*.xml``;
* common redistribution: ``<src>/{train,validation}/images/<class>/*.jpg`` +
  ``<src>/{train,validation}/annotations/*.xml``. Its own train/validation
  split is ignored: all parts are pooled and split again here.

NEU-specific rules on top of the VOC ones (voc.py):

* The label of a box is its object ``<name>``, never the file name (188
  NEU-DET boxes carry a class other than their file's). Every XML must hold
  at least one object (NEU-DET has no defect-free image).
* Split: ``test_per_class`` images of each *file* class (the ``<class>`` of
  ``<class>_<n>.jpg``) go to test, the rest to train (NEU-DET: 250/50 per
  class, 1,500/300 in total); ``val_per_class`` images per file class are
  then carved out of train (test is unchanged by it). Byte-identical images
  are grouped first, so copies always share a split. The split depends only
  on the seed and the file names, not on the listing order.
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from tqdm import tqdm

from csdet.datasets.neu_det import NEU_DET_CLASSES

from .errors import ConversionError, Problem
from .records import ImageRecord, natural_key, number_records
from .split import take_quota
from .summary import summarize
from .voc import BBOX_CONVENTION, child_dir, pair_files, read_pair
from .writer import check_output_dir, write_dataset

CONVERTER = 'tools/dataset_converters/neu_det.py'
SUMMARY_TITLE = 'NEU-DET split (images by file class, boxes by label)'


@dataclass
class CollectResult:
    """Validated samples (natural name order, numbered) and warnings."""
    samples: List[ImageRecord]
    warnings: List[Problem] = field(default_factory=list)
    layout: str = ''


def find_source_parts(src: Path) -> Tuple[str, List[Tuple[Path, Path]]]:
    """Detect the layout; return it and its (images_dir, xml_dir) pairs.

    Raises ConversionError for a missing folder or an unknown layout.
    """
    src = Path(src)
    if not src.is_dir():
        raise ConversionError([Problem(src, 'source folder not found')])
    images, annotations = child_dir(src, 'images'), child_dir(
        src, 'annotations')
    if images and annotations:
        return 'original', [(images, annotations)]
    parts = []
    for child in sorted(p for p in src.iterdir() if p.is_dir()):
        images, annotations = child_dir(child, 'images'), child_dir(
            child, 'annotations')
        if images and annotations:
            parts.append((images, annotations))
    if parts:
        return 'redistributed', parts
    raise ConversionError([
        Problem(
            src, 'unknown layout: expected IMAGES/ + ANNOTATIONS/ (original '
            'release) or <part>/images/ + <part>/annotations/ (e.g. '
            'train/, validation/)')
    ])


def file_class_of(stem: str, image_path: Path,
                  classes: Sequence[str]) -> Optional[str]:
    """Stratum of an image: ``<class>`` of ``<class>_<n>``, else its folder."""
    prefix = stem.rsplit('_', 1)[0] if '_' in stem else stem
    if prefix in classes:
        return prefix
    if image_path.parent.name in classes:
        return image_path.parent.name
    return None


def collect_samples(src: Path,
                    classes: Sequence[str] = NEU_DET_CLASSES,
                    fix_boxes: bool = False,
                    progress: bool = True) -> CollectResult:
    """Find, read and validate every image/XML pair under ``src``.

    Raises ConversionError listing ALL problems; otherwise returns the
    samples (``stratum`` = file class) and the warnings.
    """
    layout, parts = find_source_parts(Path(src))
    pairs = pair_files([p[0] for p in parts], [p[1] for p in parts],
                       Path(src))
    problems, warnings = list(pairs.problems), []
    samples = []
    for stem in tqdm(pairs.stems, desc='Reading NEU-DET', unit='img',
                     disable=not progress):
        image_path = pairs.images[stem]
        record, found, notes = read_pair(stem, image_path, pairs.xmls[stem],
                                         classes, fix_boxes,
                                         allow_empty=False)
        file_class = file_class_of(stem, image_path, classes)
        if file_class is None:
            found.append(Problem(
                image_path, 'cannot tell the file class for the stratified '
                'split: name is not <class>_<n> and the folder is not a '
                f'class (classes: {", ".join(classes)})'))
        problems += found
        warnings += notes
        if record is not None and not found:
            record.stratum = file_class
            samples.append(record)
    if problems:
        raise ConversionError(problems)
    number_records(samples)
    return CollectResult(samples, warnings, layout)


def group_duplicates(samples: Sequence[ImageRecord]
                     ) -> List[List[ImageRecord]]:
    """Groups of byte-identical images (singletons included), name order."""
    by_digest: Dict[str, List[ImageRecord]] = defaultdict(list)
    for sample in sorted(samples, key=lambda s: natural_key(s.stem)):
        by_digest[sample.digest].append(sample)
    return sorted(by_digest.values(), key=lambda g: natural_key(g[0].stem))


def _per_class_quota(samples: Sequence[ImageRecord], per_class: int,
                     classes: Sequence[str], key: str, split: str,
                     option: str
                     ) -> Tuple[List[ImageRecord], List[ImageRecord]]:
    """Take ``per_class`` images of each file class (duplicate groups kept
    whole, shuffled by ``key:<class>``); return (rest, taken) in name
    order. Raises ValueError when a class cannot give exactly that many."""
    if per_class < 0:
        raise ValueError(f'{option} must be >= 0, got {per_class}')
    strata: Dict[str, List[List[ImageRecord]]] = defaultdict(list)
    for group in group_duplicates(samples):
        strata[group[0].stratum].append(group)
    order = [c for c in classes if c in strata] + sorted(
        set(strata) - set(classes))
    rest, taken = [], []
    for stratum in order:
        groups = strata[stratum]
        chosen, others = take_quota(groups, per_class, f'{key}:{stratum}')
        if len(chosen) != per_class:
            total = sum(len(g) for g in groups)
            raise ValueError(
                f'class {stratum!r}: cannot put {per_class} images in '
                f'the {split} split (it has {total} images in duplicate '
                f'groups of sizes {sorted(len(g) for g in groups)}); lower '
                f'{option}')
        taken += chosen
        rest += others
    by_name = lambda s: natural_key(s.stem)  # noqa: E731
    return sorted(rest, key=by_name), sorted(taken, key=by_name)


def split_samples(samples: Sequence[ImageRecord],
                  test_per_class: int = 50,
                  seed: int = 0,
                  classes: Sequence[str] = NEU_DET_CLASSES
                  ) -> Tuple[List[ImageRecord], List[ImageRecord]]:
    """Stratified (train, test): ``test_per_class`` images per file class.

    Byte-identical images are placed together (a group's stratum is that of
    its first name). Each stratum shuffles its groups with its own RNG
    seeded by (seed, class); groups that would overshoot the quota are
    skipped, so every stratum gets exactly ``test_per_class`` test images.
    Raises ValueError when that is impossible.
    """
    return _per_class_quota(samples, test_per_class, classes,
                            f'neu-det-split:{seed}', 'test',
                            '--test-per-class')


def carve_val(train: Sequence[ImageRecord],
              val_per_class: int,
              seed: int = 0,
              classes: Sequence[str] = NEU_DET_CLASSES
              ) -> Tuple[List[ImageRecord], List[ImageRecord]]:
    """(train, val): ``val_per_class`` images per file class moved out of
    ``train`` by the same rules as split_samples (own RNG per class)."""
    return _per_class_quota(train, val_per_class, classes,
                            f'neu-det-val-split:{seed}', 'val',
                            '--val-per-class')


def convert(src: Path,
            out: Path,
            seed: int = 0,
            test_per_class: int = 50,
            fix_boxes: bool = False,
            classes: Sequence[str] = NEU_DET_CLASSES,
            progress: bool = True,
            val_per_class: int = 0) -> dict:
    """Validate ``src``, split it and write ``out``; return the manifest.

    Writes annotations/{train,test}.json, plus val.json when
    ``val_per_class`` > 0. Raises ConversionError (nothing written) when
    the input or the options are invalid.
    """
    classes = tuple(classes)
    if len(set(classes)) != len(classes) or not classes:
        raise ConversionError([Problem(Path(src), f'--classes must be '
                                       f'unique and non-empty: {classes}')])
    check_output_dir(Path(out))
    result = collect_samples(Path(src), classes, fix_boxes, progress)
    try:
        train, test = split_samples(result.samples, test_per_class, seed,
                                    classes)
        train, val = carve_val(train, val_per_class, seed, classes)
    except ValueError as error:
        raise ConversionError([Problem(Path(src), str(error))]) from None
    splits = dict(train=train, val=val, test=test)
    if not val_per_class:
        del splits['val']
    duplicates = [[s.stem for s in group]
                  for group in group_duplicates(result.samples)
                  if len(group) > 1]
    rows = summarize(splits, classes)
    manifest = dict(
        converter=CONVERTER,
        src=os.path.abspath(src), layout=result.layout, seed=seed,
        test_per_class=test_per_class, val_per_class=val_per_class,
        fix_boxes=fix_boxes, classes=list(classes),
        bbox_convention=BBOX_CONVENTION,
        num_images={s: len(r) for s, r in splits.items()},
        num_boxes={s: rows[-1][f'{s}_boxes'] for s in splits},
        byte_identical_groups=duplicates,
        warnings=[str(w) for w in result.warnings], summary=rows)
    write_dataset(
        Path(out), splits, classes, manifest,
        lambda split: dict(description=f'NEU-DET {split} split (csdet '
                           f'{CONVERTER})', split=split, seed=seed,
                           bbox_convention=BBOX_CONVENTION))
    return manifest
