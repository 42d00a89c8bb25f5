"""COCO output of the converters, written atomically.

Layout of ``OUT``::

    annotations/<split>.json   COCO detection JSON (train, [val,] test)
    images/<file name>         symlinks to the source images
    splits/<split>.txt         image stems, one a line
    conversion.json            the converter's manifest (options, counts)
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from .errors import ConversionError, Problem
from .records import ImageRecord

MANIFEST_NAME = 'conversion.json'


def plain(value: float) -> float:
    """Integral floats as ints, so the JSON reads like the source."""
    return int(value) if float(value).is_integer() else float(value)


def to_coco(records: Sequence[ImageRecord],
            classes: Sequence[str],
            info: Optional[dict] = None) -> dict:
    """COCO detection dict; category ids are 1-based in ``classes`` order.

    Image and annotation ids are the records' (see number_records()); every
    box label must be in ``classes`` (KeyError otherwise).
    """
    category_id = {name: index for index, name in enumerate(classes, 1)}
    images, annotations = [], []
    for record in records:
        images.append(dict(id=record.image_id,
                           file_name=record.image_path.name,
                           width=record.width, height=record.height))
        for offset, box in enumerate(record.boxes):
            bbox = [plain(v) for v in box.bbox]
            annotations.append(dict(
                id=record.first_annotation_id + offset,
                image_id=record.image_id,
                category_id=category_id[box.label],
                bbox=bbox,
                area=plain(bbox[2] * bbox[3]),
                iscrowd=0,
                **box.extra))
    categories = [dict(id=i, name=name, supercategory='defect')
                  for name, i in category_id.items()]
    return dict(info=dict(info or {}), licenses=[], images=images,
                annotations=annotations, categories=categories)


def check_output_dir(out: Path, option: str = '--out') -> None:
    """Raise ConversionError when ``out`` is a file, or a non-empty folder
    that no converter wrote (it has no conversion.json)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConversionError([Problem(out, 'output exists and is not a '
                                       f'folder; choose another {option}')])
    if out.is_dir() and any(out.iterdir()) and not (out /
                                                    MANIFEST_NAME).is_file():
        raise ConversionError([
            Problem(out, f'output folder is not empty and has no '
                    f'{MANIFEST_NAME} (not written by this converter); '
                    f'remove it or choose another {option}')
        ])


def _dump_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + '\n')


def write_dataset(out: Path, splits: Mapping[str, Sequence[ImageRecord]],
                  classes: Sequence[str], manifest: dict,
                  info_of: Callable[[str], dict]) -> None:
    """Write ``splits`` (name -> records) to a temp folder beside ``out``,
    then rename it to ``out``.

    ``info_of(split)`` gives each JSON's ``info``. An earlier converter
    output at ``out`` is replaced only once the new one is complete; on any
    failure the temp folder is removed and ``out`` is left as it was.
    Raises ConversionError when ``out`` is not ours to replace.
    """
    out = Path(os.path.abspath(out))
    check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f'.{out.name}.tmp-',
                                    dir=out.parent))
    os.chmod(staging, 0o755)  # mkdtemp makes it private (0700)
    backup = None
    try:
        (staging / 'splits').mkdir()
        (staging / 'images').mkdir()
        for split, records in splits.items():
            _dump_json(staging / 'annotations' / f'{split}.json',
                       to_coco(records, classes, info_of(split)))
            (staging / 'splits' / f'{split}.txt').write_text(
                ''.join(f'{r.stem}\n' for r in records))
            for record in records:
                os.symlink(os.path.abspath(record.image_path),
                           staging / 'images' / record.image_path.name)
        _dump_json(staging / MANIFEST_NAME, manifest)
        if out.exists():
            backup = Path(tempfile.mkdtemp(prefix=f'.{out.name}.old-',
                                           dir=out.parent))
            os.rename(out, backup / 'previous')
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if backup is not None and not out.exists():
            os.rename(backup / 'previous', out)
        raise
    finally:
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
