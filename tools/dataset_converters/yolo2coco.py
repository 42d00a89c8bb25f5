"""Convert an Ultralytics YOLO-txt dataset (data.yaml) to COCO JSON.

Usage::

    python tools/dataset_converters/yolo2coco.py --data DATA.yaml --out OUT

The dataset's splits are kept: train -> train.json, val -> test.json (or
val.json when the yaml also has a test split, which becomes test.json).
Image sizes are read from the images; an image without labels is kept as a
negative. Writes ``OUT/annotations/``, ``OUT/images/`` (symlinks),
``OUT/splits/<split>.txt`` and ``OUT/conversion.json``; nothing when any
file is bad (all problems reported at once, with file:line). Rules:
csdet/datasets/converters/yolo.py.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from csdet.datasets.converters.cli import add_common_arguments, run_conversion
from csdet.datasets.converters.yolo2coco import SUMMARY_TITLE, convert


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an Ultralytics YOLO-txt dataset to COCO JSON.')
    parser.add_argument('--data', required=True, type=Path,
                        help='Ultralytics data.yaml (path, train, val, '
                        '[test], names)')
    parser.add_argument('--out', required=True, type=Path,
                        help='output folder')
    add_common_arguments(parser, split_options=False)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    return run_conversion(
        lambda: convert(args.data, args.out, not args.no_progress),
        str(args.out), SUMMARY_TITLE,
        lambda manifest: ('splits kept: ' + ', '.join(
            f'{k} -> {v}.json' for k, v in manifest['split_map'].items()), ))

if __name__ == '__main__':
    sys.exit(main())
