"""csdet.datasets.converters.voc: pairs, negatives, split lists."""
from pathlib import Path

import cv2
import numpy as np

from csdet.datasets.converters.voc import (find_image_sets, pair_files,
                                           read_pair, read_split_lists)


def write_pair(folder, stem, objects, size=(40, 30)):
    """An image (width, height = size) and its VOC XML; objects =
    (name, xmin, ymin, xmax, ymax)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / f'{stem}.png'),
                np.full((size[1], size[0], 3), 128, np.uint8))
    body = ''.join(
        f'<object><name>{n}</name><truncated>1</truncated><bndbox><xmin>{a}'
        f'</xmin><ymin>{b}</ymin><xmax>{c}</xmax><ymax>{d}</ymax></bndbox>'
        '</object>' for n, a, b, c, d in objects)
    (folder / f'{stem}.xml').write_text(
        f'<annotation><size><width>{size[0]}</width><height>{size[1]}'
        f'</height></size>{body}</annotation>')
    return folder / f'{stem}.png', folder / f'{stem}.xml'


def test_read_pair_converts_boxes_and_keeps_flags(tmp_path):
    image, xml = write_pair(tmp_path, 'p', [('dent', 1, 1, 40, 30),
                                            ('crack', 5, 7, 10, 9)])
    record, problems, warnings = read_pair('p', image, xml, None)
    assert not problems and not warnings
    assert (record.width, record.height, record.source) == (40, 30, xml)
    assert [(b.label, b.bbox, dict(b.extra)) for b in record.boxes] == [
        ('dent', (0, 0, 40, 30), dict(difficult=0, truncated=1)),
        ('crack', (4, 6, 6, 3), dict(difficult=0, truncated=1))]
    assert len(record.digest) == 64


def test_read_pair_negative_only_when_allowed(tmp_path):
    image, xml = write_pair(tmp_path, 'clean', [])
    record, problems, _ = read_pair('clean', image, xml, ('dent', ))
    assert record.boxes == [] and not problems
    record, problems, _ = read_pair('clean', image, xml, ('dent', ),
                                    allow_empty=False)
    assert record is None
    assert [(p.path, p.message) for p in problems] == [
        (xml, 'empty annotation: no <object>')]


def test_read_pair_dropping_every_box_is_never_a_negative(tmp_path):
    image, xml = write_pair(tmp_path, 'p', [('dent', 50, 1, 60, 9)])
    record, problems, warnings = read_pair('p', image, xml, None,
                                           fix_boxes=True)
    assert record is None and 'dropped every box' in problems[0].message
    assert 'dropped box #1' in warnings[0].message


def test_read_pair_collects_xml_and_image_problems(tmp_path):
    image, xml = write_pair(tmp_path, 'p', [('scuff', 1, 1, 4, 4)])
    image.write_bytes(b'nope')
    record, problems, _ = read_pair('p', image, xml, ('dent', 'crack'))
    assert record is None
    assert [p.path for p in problems] == [image, xml]
    assert "unknown class name(s) ['scuff']" in problems[1].message


def test_pair_files_matches_by_stem_recursively(tmp_path):
    write_pair(tmp_path / 'a', 'x_2', [])
    write_pair(tmp_path / 'b' / 'c', 'x_10', [])
    (tmp_path / 'b' / 'c' / 'x_10.png').rename(tmp_path / 'a' / 'x_10.png')
    write_pair(tmp_path / 'a', 'lonely', [])
    (tmp_path / 'a' / 'lonely.xml').unlink()
    pairs = pair_files([tmp_path], [tmp_path], tmp_path)
    assert pairs.stems == ['x_2', 'x_10']
    assert pairs.images['x_10'] == tmp_path / 'a' / 'x_10.png'
    assert [p.path for p in pairs.problems] == [tmp_path / 'a/lonely.png']


def test_find_image_sets(tmp_path):
    assert find_image_sets(tmp_path) is None
    main = tmp_path / 'imagesets' / 'Main'  # folder case is ignored
    main.mkdir(parents=True)
    assert find_image_sets(tmp_path) is None
    (main / 'train.txt').write_text('')
    (main / 'trainval.txt').write_text('')
    (main / 'test.txt').write_text('')
    assert find_image_sets(tmp_path) == dict(train=main / 'train.txt',
                                             test=main / 'test.txt')


def test_read_split_lists_problems_name_list_and_line(tmp_path):
    train, test = tmp_path / 'train.txt', tmp_path / 'test.txt'
    train.write_text('a 1\n\nb -1\na\n')  # second column ignored
    test.write_text('c\nb\nghost\n')
    splits, problems = read_split_lists(dict(train=train, test=test),
                                        ['a', 'b', 'c', 'd'])
    assert splits == dict(train=['a', 'b'], test=['c'])
    assert [(p.path, p.line) for p in problems] == [
        (train, 4), (test, 2), (test, 3), (tmp_path, None)]
    assert 'already listed in train.txt line 1' in problems[0].message
    assert 'already listed in train.txt line 3' in problems[1].message
    assert "'ghost' has no image + XML pair" in problems[2].message
    assert '1 image(s) are in no split list (d)' in problems[3].message
