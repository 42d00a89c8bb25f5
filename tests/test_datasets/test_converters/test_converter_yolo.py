"""csdet.datasets.converters.yolo: data.yaml, label paths, label lines."""
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from csdet.datasets.converters import ConversionError
from csdet.datasets.converters.yolo import (YoloBox, label_path_for,
                                            load_data_yaml, parse_label_line,
                                            read_image_record, read_labels,
                                            split_images, yolo_box_to_coco)


def write_yaml(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_load_data_yaml_root_names_and_entries(tmp_path):
    path = write_yaml(tmp_path / 'cfg' / 'data.yaml',
                      'path: ../ds\ntrain: [images/a, list.txt]\n'
                      'val: images/v\ntest: ""\nnc: 2\n'
                      'names: {1: dent, 0: crack}\n')
    data = load_data_yaml(path)
    assert data.root == tmp_path / 'cfg' / '..' / 'ds'
    assert data.names == ('crack', 'dent')
    assert data.splits == dict(train=['images/a', 'list.txt'],
                               val=['images/v'])  # empty test: no test
    absolute = write_yaml(tmp_path / 'b.yaml', f'path: {tmp_path}/x\n'
                          'train: t\nval: v\nnames: [a]\n')
    assert load_data_yaml(absolute).root == tmp_path / 'x'
    no_path = write_yaml(tmp_path / 'c.yaml', 'train: t\nval: v\n'
                         'names: [a]\n')
    assert load_data_yaml(no_path).root == tmp_path


@pytest.mark.parametrize('text, messages', [
    ('- just\n- a list\n', ['expected a mapping']),
    ('train: t\nnames: [a]\n', ['val: missing']),
    ('train: 3\nval: v\nnames: [a]\n', ['train: expected a folder']),
    ('train: t\nval: v\nnames: []\n', ['names: expected a non-empty list']),
    ('train: t\nval: v\nnames: {a: x}\n', ['names: dict keys must be']),
    ('train: t\nval: v\nnc: 3\nnames: [a, b]\n',
     ['nc is 3 but names has 2']),
    ('val: v\nnames: [a, a]\n', ['must be non-empty and unique',
                                 'train: missing']),
])
def test_load_data_yaml_reports_every_problem(tmp_path, text, messages):
    path = write_yaml(tmp_path / 'data.yaml', text)
    with pytest.raises(ConversionError) as info:
        load_data_yaml(path)
    problems = info.value.problems
    assert len(problems) == len(messages)
    for problem, message in zip(problems, messages):
        assert problem.path == path and message in problem.message


def test_load_data_yaml_syntax_error_has_its_line(tmp_path):
    path = write_yaml(tmp_path / 'data.yaml', 'train: t\nval: v\n'
                      'names: [a\n')
    with pytest.raises(ConversionError) as info:
        load_data_yaml(path)
    problem, = info.value.problems
    assert problem.line == 4 and 'not valid YAML' in problem.message
    assert str(problem).startswith(f'{path}:4: ')
    assert '\n' not in problem.message


@pytest.mark.parametrize('image, label', [
    ('/d/images/train/a.jpg', '/d/labels/train/a.txt'),
    ('/d/images/x/images/b.v2.png', '/d/images/x/labels/b.v2.txt'),
    ('/d/pictures/c.png', '/d/pictures/c.txt'),  # beside the image
])
def test_label_path_for(image, label):
    assert label_path_for(Path(image)) == Path(label)


@pytest.mark.parametrize('line, parsed, error', [
    ('2 0.5 0.5 0.2 0.4', (2, 0.5, 0.5, 0.2, 0.4), None),
    ('1.0 0.5 0.5 0.2 0.4', (1, 0.5, 0.5, 0.2, 0.4), None),
    ('0 0.1 0.1 0.3 0.1 0.3 0.3', None, 'segment line (7 values)'),
    ('0 0.5 0.5 0.1', None, '4 value(s), expected 5'),
    ('3 0.5 0.5 0.1 0.1', None, 'class id 3 out of range'),
    ('-1 0.5 0.5 0.1 0.1', None, 'class id -1 out of range'),
    ('1.5 0.5 0.5 0.1 0.1', None, "class id '1.5' is not an integer"),
    ('0 0.5 nan 0.1 0.1', None, "cy 'nan' is not a number"),
    ('0 0.5 0.5 0 0.1', None, 'box has no area'),
    ('0 0.5 0.5 1.01 0.1', None, 'reaches outside the image'),
    ('0 -0.01 0.5 0.01 0.1', None, 'reaches outside the image'),
])
def test_parse_label_line(line, parsed, error):
    result, errors = parse_label_line(line.split(), 3)
    assert result == parsed
    if error is None:
        assert errors == []
    else:
        assert len(errors) == 1 and error in errors[0]


def test_yolo_box_to_coco_uses_width_and_height():
    box = YoloBox(0, 0.25, 0.5, 0.5, 0.2, line=1)
    assert yolo_box_to_coco(box, 200, 100) == (0, 40, 100, 20)
    edge = YoloBox(0, 0.9995, 0.5, 0.002, 1.0, line=1)  # right edge 1.0005
    assert yolo_box_to_coco(edge, 1000, 10) == (998.5, 0, 1.5, 10)


def test_read_labels_lines_and_problems(tmp_path):
    path = tmp_path / 'a.txt'
    assert read_labels(path, 2) == ([], [])  # missing: a negative
    path.write_text('\n0 0.5 0.5 0.2 0.2\n\n5 0.5 0.5 0.2 0.2\n'
                    '1 0.5 0.5 0.2 0.2 0.1\n')
    boxes, problems = read_labels(path, 2)
    assert boxes == [YoloBox(0, 0.5, 0.5, 0.2, 0.2, line=2)]
    assert [(p.path, p.line) for p in problems] == [(path, 4), (path, 5)]
    path.write_bytes(b'\xff\xfe\x00')
    assert 'not a text label file' in read_labels(path, 2)[1][0].message


def test_split_images_folders_lists_and_orphans(tmp_path):
    root = tmp_path / 'ds'
    for name in ('a', 'b'):
        image = root / 'images' / 'train' / 'sub' / f'{name}.png'
        image.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(image), np.zeros((4, 6, 3), np.uint8))
    labels = root / 'labels' / 'train' / 'sub'
    labels.mkdir(parents=True)
    (labels / 'a.txt').write_text('')
    (labels / 'zombie.txt').write_text('')
    (labels.parent / 'classes.txt').write_text('crack\n')  # a class list
    (root / 'list.txt').write_text(f'./images/train/sub/b.png\n\n'
                                   f'{root}/images/train/sub/a.png\n'
                                   'images/nothing.png\nnotes.md\n')
    path = write_yaml(root / 'data.yaml', 'train: images/train\n'
                      'val: [list.txt, missing_dir]\nnames: [crack]\n')
    data = load_data_yaml(path)
    images, problems = split_images(data, 'train')
    assert [p.name for p in images] == ['a.png', 'b.png']
    assert [(p.path, p.message) for p in problems] == [
        (labels / 'zombie.txt', 'image missing: no image for this label '
         f'file in {root / "images" / "train"}')]
    images, problems = split_images(data, 'val')
    assert [p.name for p in images] == ['b.png', 'a.png']
    assert [(p.path, p.line) for p in problems] == [
        (root / 'list.txt', 4), (root / 'list.txt', 5), (path, None)]
    assert 'missing_dir is not a folder or a .txt list' in str(problems[2])


def test_read_image_record(tmp_path):
    image = tmp_path / 'images' / 'p.png'
    image.parent.mkdir()
    cv2.imwrite(str(image), np.zeros((50, 80, 3), np.uint8))
    record, problems = read_image_record(image, ('crack', 'dent'))
    assert problems == [] and record.boxes == [] and record.source is None
    assert (record.width, record.height) == (80, 50)
    label = tmp_path / 'labels' / 'p.txt'
    label.parent.mkdir()
    label.write_text('1 0.5 0.5 0.25 0.2\n')
    record, _ = read_image_record(image, ('crack', 'dent'))
    assert [(b.label, b.bbox) for b in record.boxes] == [
        ('dent', (30, 20, 20, 10))]
    assert record.source == label
    os.truncate(image, 10)
    record, problems = read_image_record(image, ('crack', 'dent'))
    assert record is None and problems[0].path == image
