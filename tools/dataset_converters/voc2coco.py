"""Convert a Pascal VOC folder to COCO JSON.

Usage::

    python tools/dataset_converters/voc2coco.py --src DIR --out OUT \
        [--classes C ...] [--test-fraction 0.2] [--val-fraction 0] \
        [--seed 0] [--fix-boxes]

``DIR`` holds ``Annotations/`` + ``JPEGImages/`` or XML files beside their
images. The split is ``DIR/ImageSets/Main/{train,val,test}.txt`` when those
exist (fractions are then refused), else deterministic and stratified by
each image's majority class. Writes ``OUT/annotations/{train,test}.json``
(+ ``val.json``), ``OUT/images/`` (symlinks), ``OUT/splits/<split>.txt`` and
``OUT/conversion.json``; nothing when any input file is bad (all problems
are reported at once). Rules: csdet/datasets/converters/voc2coco.py.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from csdet.datasets.converters.cli import add_common_arguments, run_conversion
from csdet.datasets.converters.voc2coco import SUMMARY_TITLE, convert


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a Pascal VOC folder to COCO JSON.')
    parser.add_argument('--src', required=True, type=Path,
                        help='VOC folder (Annotations/ + JPEGImages/, or XML '
                        'beside images)')
    parser.add_argument('--out', required=True, type=Path,
                        help='output folder')
    parser.add_argument('--classes', nargs='+', default=None,
                        help='class names in category-id order (default: '
                        'the names found in the files, sorted); any other '
                        'name is an error')
    parser.add_argument('--test-fraction', type=float, default=None,
                        help='share of each majority class put in test '
                        '(default: 0.2; not with ImageSets lists)')
    parser.add_argument('--val-fraction', type=float, default=None,
                        help='share of each majority class put in val '
                        '(default: 0 = no val.json; not with ImageSets '
                        'lists)')
    add_common_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    return run_conversion(
        lambda: convert(args.src, args.out, args.classes, args.test_fraction,
                        args.val_fraction, args.seed, args.fix_boxes,
                        not args.no_progress),
        str(args.out), SUMMARY_TITLE,
        lambda manifest: (
            f'classes ({manifest["classes_from"]}): '
            f'{", ".join(manifest["classes"])}',
            f'split: {manifest["split_from"]}'))

if __name__ == '__main__':
    sys.exit(main())
