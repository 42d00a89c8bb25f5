"""Convert NEU-DET (Pascal VOC XML) to COCO JSON with a stratified split.

Usage::

    python tools/dataset_converters/neu_det.py \
        --src ../shared/datasets/NEU-DET --out data/NEU-DET \
        [--seed 0] [--fix-boxes] [--test-per-class 50] [--val-per-class 0]

Writes ``OUT/annotations/{train,test}.json`` (+ ``val.json`` with
``--val-per-class N``: N images per file class taken out of train; test is
unchanged), ``OUT/images/`` (symlinks), ``OUT/splits/<split>.txt`` and
``OUT/conversion.json``. Layouts, box convention and split rules:
csdet/datasets/converters/neu_det.py. Nothing is written unless the whole
input is valid; every problem is reported at once.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from csdet.datasets.converters.cli import add_common_arguments, run_conversion
from csdet.datasets.converters.neu_det import (NEU_DET_CLASSES,
                                               SUMMARY_TITLE, convert)

__all__ = ['NEU_DET_CLASSES', 'convert', 'main']


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert NEU-DET (Pascal VOC) to COCO JSON with a '
        'stratified train/test split.')
    parser.add_argument('--src', required=True, type=Path,
                        help='NEU-DET folder (IMAGES/ + ANNOTATIONS/, or '
                        'train|validation/images|annotations/)')
    parser.add_argument('--out', default=Path('data/NEU-DET'), type=Path,
                        help='output folder (default: data/NEU-DET)')
    parser.add_argument('--test-per-class', type=int, default=50,
                        help='test images per file class (default: 50)')
    parser.add_argument('--val-per-class', type=int, default=0,
                        help='val images per file class, taken out of train '
                        '(default: 0 = no val.json, the paper\'s split)')
    parser.add_argument('--classes', nargs='+', default=list(NEU_DET_CLASSES),
                        help='class names, in category-id order (default: '
                        'the six NEU-DET classes)')
    add_common_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    return run_conversion(
        lambda: convert(args.src, args.out, args.seed, args.test_per_class,
                        args.fix_boxes, args.classes, not args.no_progress,
                        val_per_class=args.val_per_class),
        str(args.out), SUMMARY_TITLE,
        lambda manifest: (
            'note: byte-identical images kept in one split: '
            f'{", ".join(group)}'
            for group in manifest['byte_identical_groups']))

if __name__ == '__main__':
    sys.exit(main())
