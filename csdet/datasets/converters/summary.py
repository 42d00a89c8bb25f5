"""Per-class, per-split counts of a conversion and their printed report."""
from __future__ import annotations

import sys
from collections import Counter
from typing import List, Mapping, Sequence, TextIO

from rich.console import Console
from rich.table import Table

from .records import NEGATIVE, ImageRecord


def summarize(splits: Mapping[str, Sequence[ImageRecord]],
              classes: Sequence[str]) -> List[dict]:
    """Rows ``{cls, <split>_images, <split>_boxes}``, one per class, then a
    ``(no objects)`` row when some image has no box, then ``total``.

    Images are counted by their stratum (file class or majority class),
    boxes by their label.
    """
    counts = {split: (Counter(r.stratum if r.boxes else NEGATIVE
                              for r in records),
                      Counter(b.label for r in records for b in r.boxes))
              for split, records in splits.items()}
    names = list(classes)
    if any(images[NEGATIVE] for images, _ in counts.values()):
        names.append(NEGATIVE)
    rows = []
    for name in names + ['total']:
        row = dict(cls=name)
        for split, (images, boxes) in counts.items():
            row[f'{split}_images'] = (sum(images.values()) if name == 'total'
                                      else images[name])
            row[f'{split}_boxes'] = (sum(boxes.values()) if name == 'total'
                                     else boxes[name])
        rows.append(row)
    return rows


def print_summary(rows: Sequence[dict], title: str,
                  file: TextIO = None) -> None:
    """The summary rows as a table (columns: images and boxes per split)."""
    splits = [key[:-len('_images')] for key in rows[0]
              if key.endswith('_images')]
    keys = ['cls'] + [f'{s}_{what}' for s in splits
                      for what in ('images', 'boxes')]
    table = Table(title=title)
    table.add_column('class', justify='left', overflow='fold')
    for key in keys[1:]:
        table.add_column(key.replace('_', ' '), justify='right',
                         overflow='fold')
    for row in rows:
        table.add_row(*(str(row[k]) for k in keys),
                      end_section=row['cls'] == rows[-2]['cls'])
    console = Console(file=file)
    if not console.is_terminal:  # a log file: no reason to squeeze to 80
        console = Console(file=file, width=160)
    console.print(table)


def print_report(manifest: dict, out: str, title: str) -> None:
    """Warnings (stderr), the summary table and a one-line total."""
    for warning in manifest['warnings']:
        print(f'WARNING: {warning}', file=sys.stderr)
    print_summary(manifest['summary'], title)
    images = ' / '.join(f'{n} {split}'
                        for split, n in manifest['num_images'].items())
    negatives = sum(manifest.get('num_negatives', {}).values())
    extra = f', {negatives} without objects' if negatives else ''
    print(f'Wrote {out} ({images} images, '
          f'{sum(manifest["num_boxes"].values())} boxes{extra}).')
