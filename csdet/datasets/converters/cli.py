"""What the converter command-line tools share: options and the run."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Iterable

from .errors import ConversionError
from .summary import print_report


def add_common_arguments(parser: argparse.ArgumentParser,
                         split_options: bool = True) -> None:
    """``--no-progress``; with ``split_options`` also ``--seed`` and
    ``--fix-boxes`` (converters that split and check VOC boxes)."""
    if split_options:
        parser.add_argument('--seed', type=int, default=0,
                            help='split seed (default: 0)')
        parser.add_argument('--fix-boxes', action='store_true',
                            help='clip boxes to the image and drop those '
                            'left degenerate, instead of failing')
    parser.add_argument('--no-progress', action='store_true',
                        help='hide the progress bar')


def run_conversion(convert: Callable[[], dict], out: str, title: str,
                   notes: Callable[[dict], Iterable[str]] = lambda m: ()
                   ) -> int:
    """Run ``convert()``; print every problem and return 1 when the input
    is invalid (nothing was written), else print ``notes(manifest)`` and
    the summary table and return 0."""
    try:
        manifest = convert()
    except ConversionError as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return 1
    for line in notes(manifest):
        print(line)
    print_report(manifest, out, title)
    return 0
