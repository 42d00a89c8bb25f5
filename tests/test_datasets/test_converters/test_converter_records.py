"""csdet.datasets.converters.records: names, majority class, decoding."""
from pathlib import Path

import cv2
import numpy as np

from csdet.datasets.converters.records import (Box, ImageRecord,
                                               check_unique_names,
                                               decode_size, majority_class,
                                               natural_key, number_records)


def record(path, labels=()):
    path = Path(path)
    return ImageRecord(path.stem, path, 8, 8,
                       [Box(name, (0, 0, 1, 1)) for name in labels])


def test_natural_key_orders_numbers_by_value():
    stems = ['crazing_10', 'crazing_2', 'a_1', 'crazing_1']
    assert sorted(stems, key=natural_key) == [
        'a_1', 'crazing_1', 'crazing_2', 'crazing_10']


def test_majority_class_ties_follow_class_order():
    classes = ('dent', 'crack', 'rust')
    boxes = [Box(n, (0, 0, 1, 1)) for n in ('crack', 'rust', 'rust')]
    assert majority_class(boxes, classes) == 'rust'
    tie = [Box(n, (0, 0, 1, 1)) for n in ('crack', 'rust', 'dent')]
    assert majority_class(tie, classes) == 'dent'
    assert majority_class([], classes) is None


def test_decode_size_reads_width_then_height():
    ok, data = cv2.imencode('.png', np.zeros((30, 50, 3), np.uint8))
    assert decode_size(data.tobytes()) == (50, 30)
    assert decode_size(b'') is None
    assert decode_size(data.tobytes()[:40]) is None  # truncated


def test_number_records_gives_unique_ids():
    items = [record('a.png', ['x', 'y']), record('b.png'),
             record('c.png', ['x'])]
    number_records(items)
    assert [(r.image_id, r.first_annotation_id) for r in items] == [
        (1, 1), (2, 3), (3, 3)]


def test_check_unique_names_flags_file_names_and_stems():
    items = [record('one/a.png'), record('two/a.png'), record('two/a.jpg'),
             record('two/b.png')]
    problems = check_unique_names(items)
    assert [p.path for p in problems] == [Path('two/a.png'),
                                          Path('two/a.jpg')]
    assert "name 'a.png' is also used by one/a.png" in problems[0].message
    assert "name 'a' is also used by" in problems[1].message
