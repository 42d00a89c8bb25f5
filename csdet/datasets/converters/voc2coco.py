"""Any Pascal VOC folder to COCO JSON.

Layouts: ``<src>/Annotations/*.xml`` + ``<src>/JPEGImages/*`` (folder names
case-insensitive), or XML files beside their images anywhere under
``<src>``; images and XML files are matched by file stem, which must be
unique. An XML without ``<object>`` keeps its image as a negative
(defect-free) image.

Classes come from ``classes`` (their order gives the category ids; an
object with another name is an error naming the file and the name) or,
when None, from the files (sorted names).

Split: ``<src>/ImageSets/Main/{train,val,test}.txt`` when present (then
fractions are refused; val becomes test when there is no test.txt), else a
deterministic split stratified by each image's majority class (ties: first
in class order; negatives form their own stratum).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from tqdm import tqdm

from .errors import ConversionError, Problem
from .records import ImageRecord, majority_class, number_records
from .split import split_by_fractions
from .summary import summarize
from .voc import (BBOX_CONVENTION, child_dir, find_image_sets, pair_files,
                  read_pair, read_split_lists)
from .writer import check_output_dir, write_dataset

CONVERTER = 'tools/dataset_converters/voc2coco.py'
SUMMARY_TITLE = 'VOC -> COCO (images by majority class, boxes by label)'
DEFAULT_TEST_FRACTION = 0.2


def find_layout(src: Path) -> Tuple[str, List[Path], List[Path]]:
    """('voc' | 'beside', image folders, XML folders) of ``src``; raises
    ConversionError when ``src`` is missing."""
    src = Path(src)
    if not src.is_dir():
        raise ConversionError([Problem(src, 'source folder not found')])
    annotations = child_dir(src, 'Annotations')
    images = child_dir(src, 'JPEGImages')
    if annotations and images:
        return 'voc', [images], [annotations]
    return 'beside', [src], [src]


def _check_options(src: Path, classes: Optional[Sequence[str]],
                   lists: Optional[Dict[str, Path]],
                   test_fraction: Optional[float],
                   val_fraction: Optional[float]) -> None:
    problems = []
    if classes is not None and (not classes
                                or len(set(classes)) != len(classes)):
        problems.append(Problem(src, '--classes must be unique and '
                                f'non-empty: {list(classes)}'))
    if lists is not None:
        given = [name for name, value in (('--test-fraction', test_fraction),
                                          ('--val-fraction', val_fraction))
                 if value is not None]
        if given:
            folder = next(iter(lists.values())).parent
            names = ', '.join(path.name for path in lists.values())
            problems.append(Problem(
                folder, f'split lists {names} decide the split, so '
                f'{" and ".join(given)} cannot be '
                'used: drop the option(s), or move ImageSets/ away to split '
                'by fractions'))
        if 'train' not in lists:
            problems.append(Problem(
                next(iter(lists.values())).parent,
                'no train.txt (trainval.txt is not read: rename it to '
                'train.txt)'))
        elif len(lists) == 1:
            problems.append(Problem(lists['train'].parent,
                                    'only train.txt: add test.txt or '
                                    'val.txt'))
    if problems:
        raise ConversionError(problems)


def collect_records(src: Path, classes: Optional[Sequence[str]],
                    fix_boxes: bool, progress: bool
                    ) -> Tuple[str, List[ImageRecord], List[Problem]]:
    """(layout, records in natural name order, warnings); raises
    ConversionError listing every problem."""
    layout, image_dirs, xml_dirs = find_layout(src)
    pairs = pair_files(image_dirs, xml_dirs, src)
    problems, warnings, records = list(pairs.problems), [], []
    for stem in tqdm(pairs.stems, desc='Reading VOC', unit='img',
                     disable=not progress):
        record, found, notes = read_pair(stem, pairs.images[stem],
                                         pairs.xmls[stem], classes, fix_boxes)
        problems += found
        warnings += notes
        if record is not None:
            records.append(record)
    if problems:
        raise ConversionError(problems)
    return layout, records, warnings


def _split_from_lists(records: List[ImageRecord], lists: Dict[str, Path]
                      ) -> Dict[str, List[ImageRecord]]:
    stems, problems = read_split_lists(lists, [r.stem for r in records])
    if problems:
        raise ConversionError(problems)
    by_stem = {r.stem: r for r in records}
    if 'test' not in stems:
        stems['test'] = stems.pop('val')
    return {split: [by_stem[s] for s in stems[split]]
            for split in ('train', 'val', 'test') if split in stems}


def _check_not_empty(src: Path, splits: Dict[str, List[ImageRecord]],
                     hint: Dict[str, str]) -> None:
    empty = [Problem(src, f'the {split} split is empty: {hint[split]}')
             for split, records in splits.items() if not records]
    if empty:
        raise ConversionError(empty)


def convert(src: Path,
            out: Path,
            classes: Optional[Sequence[str]] = None,
            test_fraction: Optional[float] = None,
            val_fraction: Optional[float] = None,
            seed: int = 0,
            fix_boxes: bool = False,
            progress: bool = True) -> dict:
    """Validate ``src``, split it and write ``out``; return the manifest.

    Fractions left None mean 0.2 (test) and 0 (val, no val.json) when no
    ImageSets lists exist; with lists they must stay None. Raises
    ConversionError (nothing written) when the input or options are invalid.
    """
    src = Path(src)
    classes = None if classes is None else tuple(classes)
    lists = find_image_sets(src) if src.is_dir() else None
    _check_options(src, classes, lists, test_fraction, val_fraction)
    check_output_dir(Path(out))
    if Path(os.path.abspath(out)).is_relative_to(os.path.abspath(src)):
        raise ConversionError([Problem(Path(out), 'the output folder is '
                                       'inside --src (its image links would '
                                       'be read back): choose another '
                                       '--out')])
    layout, records, warnings = collect_records(src, classes, fix_boxes,
                                                progress)
    classes_from = '--classes' if classes else 'files (sorted names)'
    if classes is None:
        classes = tuple(sorted({b.label for r in records for b in r.boxes}))
        if not classes:
            raise ConversionError([Problem(src, 'no <object> in any XML: '
                                           'name the classes with --classes')])
    for record in records:
        record.stratum = majority_class(record.boxes, classes)
    number_records(records)
    if lists is not None:
        splits = _split_from_lists(records, lists)
        split_from = 'ImageSets/Main lists'
        hint = {s: f'{lists.get(s, lists.get("val"))} lists no image'
                for s in splits}
    else:
        test_fraction = (DEFAULT_TEST_FRACTION if test_fraction is None
                         else test_fraction)
        val_fraction = 0.0 if val_fraction is None else val_fraction
        try:
            splits = split_by_fractions(records, test_fraction, val_fraction,
                                        seed, classes)
        except ValueError as error:
            raise ConversionError([Problem(src, str(error))]) from None
        if not val_fraction:
            del splits['val']
        split_from = 'fractions, stratified by majority class'
        hint = dict(train='lower --test-fraction / --val-fraction',
                    val='raise --val-fraction or add images',
                    test='raise --test-fraction or add images')
    _check_not_empty(src, splits, hint)
    rows = summarize(splits, classes)
    manifest = dict(
        converter=CONVERTER, src=os.path.abspath(src), layout=layout,
        split_from=split_from, seed=seed, test_fraction=test_fraction,
        val_fraction=val_fraction, fix_boxes=fix_boxes,
        classes=list(classes), classes_from=classes_from,
        bbox_convention=BBOX_CONVENTION,
        num_images={s: len(r) for s, r in splits.items()},
        num_boxes={s: rows[-1][f'{s}_boxes'] for s in splits},
        num_negatives={s: sum(not r.boxes for r in records)
                       for s, records in splits.items()},
        warnings=[str(w) for w in warnings], summary=rows)
    write_dataset(
        Path(out), splits, classes, manifest,
        lambda split: dict(description=f'{src.name} {split} split (csdet '
                           f'{CONVERTER})', split=split, seed=seed,
                           bbox_convention=BBOX_CONVENTION))
    return manifest
