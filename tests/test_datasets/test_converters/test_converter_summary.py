"""csdet.datasets.converters.summary: per-class rows and the table."""
import io
import re
from pathlib import Path

from csdet.datasets.converters.records import Box, ImageRecord
from csdet.datasets.converters.summary import print_summary, summarize


def record(labels, stratum):
    return ImageRecord('x', Path('x.png'), 8, 8,
                       [Box(n, (0, 0, 1, 1)) for n in labels],
                       stratum=stratum)


def test_rows_count_images_by_stratum_and_boxes_by_label():
    splits = dict(train=[record(['a', 'b', 'b'], 'b'), record([], None),
                         record(['a'], 'a')],
                  test=[record(['b'], 'b')])
    rows = summarize(splits, ('a', 'b', 'c'))
    assert rows == [
        dict(cls='a', train_images=1, train_boxes=2, test_images=0,
             test_boxes=0),
        dict(cls='b', train_images=1, train_boxes=2, test_images=1,
             test_boxes=1),
        dict(cls='c', train_images=0, train_boxes=0, test_images=0,
             test_boxes=0),
        dict(cls='(no objects)', train_images=1, train_boxes=0,
             test_images=0, test_boxes=0),
        dict(cls='total', train_images=3, train_boxes=4, test_images=1,
             test_boxes=1)]
    no_negative = summarize(dict(train=splits['test']), ('a', 'b'))
    assert [r['cls'] for r in no_negative] == ['a', 'b', 'total']


def test_table_has_a_column_per_split():
    splits = dict(train=[record(['rolled-in_scale'], 'rolled-in_scale')],
                  val=[], test=[])
    buffer = io.StringIO()
    print_summary(summarize(splits, ('rolled-in_scale', )), 'T', buffer)
    text = buffer.getvalue()
    for header in ('train images', 'val boxes', 'test images'):
        assert header in text
    assert 'rolled-in_scale' in text  # not cut to the width
    assert re.search(r'total\D+1\D+1\D+0\D+0\D+0\D+0\D', text), text
