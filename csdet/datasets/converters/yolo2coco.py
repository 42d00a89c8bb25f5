"""An Ultralytics YOLO-txt dataset (data.yaml) to COCO JSON.

The dataset's own splits are kept: train -> train.json; val -> test.json
when there is no test split, else val -> val.json and test -> test.json.
Category ids are the YOLO class ids + 1, names from ``names``. Images with
no label file or an empty one are kept as negatives.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Tuple

from tqdm import tqdm

from .errors import ConversionError, Problem
from .records import (ImageRecord, check_unique_names, majority_class,
                      number_records)
from .summary import summarize
from .writer import check_output_dir, write_dataset
from .yolo import (BBOX_CONVENTION, DataYaml, load_data_yaml,
                   read_image_record, split_images)

CONVERTER = 'tools/dataset_converters/yolo2coco.py'
SUMMARY_TITLE = 'YOLO -> COCO (images by majority class, boxes by label)'


def output_splits(data: DataYaml) -> Dict[str, str]:
    """data.yaml split -> output split name."""
    if 'test' in data.splits:
        return dict(train='train', val='val', test='test')
    return dict(train='train', val='test')


def _find_images(data: DataYaml) -> Tuple[Dict[str, List[Path]],
                                          List[Problem]]:
    """Images per data.yaml split; an image twice in a split or in two
    splits is a problem."""
    images: Dict[str, List[Path]] = {}
    problems: List[Problem] = []
    owner: Dict[Path, str] = {}
    for split in data.splits:
        found, found_problems = split_images(data, split)
        problems += found_problems
        images[split] = []
        for image in found:
            key = Path(os.path.realpath(image))
            if key in owner:
                where = (f'twice in {split}' if owner[key] == split else
                         f'in both {owner[key]} and {split}')
                hint = (' (to evaluate on val, drop test: from the yaml)'
                        if {owner[key], split} == {'val', 'test'} else '')
                problems.append(Problem(image, f'listed {where} of '
                                        f'{data.path.name}; an image belongs '
                                        f'to one split{hint}'))
                continue
            owner[key] = split
            images[split].append(image)
    return images, problems


def collect_records(data: DataYaml, progress: bool = True
                    ) -> Dict[str, List[ImageRecord]]:
    """Validated records per output split (data.yaml order); raises
    ConversionError listing every problem."""
    images, problems = _find_images(data)
    mapping = output_splits(data)
    total = sum(len(v) for v in images.values())
    splits: Dict[str, List[ImageRecord]] = {}
    with tqdm(total=total, desc='Reading YOLO', unit='img',
              disable=not progress) as bar:
        for split, paths in images.items():
            records = []
            for path in paths:
                record, found = read_image_record(path, data.names)
                problems += found
                if record is not None:
                    records.append(record)
                bar.update()
            if not paths:
                problems.append(Problem(data.path, f'{split}: no images'))
            splits[mapping[split]] = records
    problems += check_unique_names(
        [r for records in splits.values() for r in records])
    if problems:
        raise ConversionError(problems)
    return {name: splits[name] for name in ('train', 'val', 'test')
            if name in splits}


def convert(data_yaml: Path, out: Path, progress: bool = True) -> dict:
    """Validate the dataset of ``data_yaml`` and write ``out`` as COCO;
    return the manifest. Raises ConversionError (nothing written) when
    anything is wrong."""
    data = load_data_yaml(Path(data_yaml))
    check_output_dir(Path(out))
    splits = collect_records(data, progress)
    classes = data.names
    all_records = [r for records in splits.values() for r in records]
    for record in all_records:
        record.stratum = majority_class(record.boxes, classes)
    number_records(all_records)
    rows = summarize(splits, classes)
    manifest = dict(
        converter=CONVERTER, data=os.path.abspath(data.path),
        root=os.path.abspath(data.root), split_map=output_splits(data),
        classes=list(classes), bbox_convention=BBOX_CONVENTION,
        num_images={s: len(r) for s, r in splits.items()},
        num_boxes={s: rows[-1][f'{s}_boxes'] for s in splits},
        num_negatives={s: sum(not r.boxes for r in records)
                       for s, records in splits.items()},
        warnings=[], summary=rows)
    write_dataset(
        Path(out), splits, classes, manifest,
        lambda split: dict(description=f'{data.root.name} {split} split '
                           f'(csdet {CONVERTER})', split=split,
                           bbox_convention=BBOX_CONVENTION))
    return manifest
