"""csdet.datasets.converters.writer: COCO dicts and the atomic write."""
import json
import os
from pathlib import Path

import pytest

from csdet.datasets.converters import ConversionError
from csdet.datasets.converters.records import Box, ImageRecord, number_records
from csdet.datasets.converters.writer import (MANIFEST_NAME, to_coco,
                                              write_dataset)

CLASSES = ('crack', 'dent')


@pytest.fixture
def splits(tmp_path):
    images = tmp_path / 'images_src'
    images.mkdir()
    items = []
    for index, labels in enumerate([['dent', 'crack'], [], ['dent']]):
        path = images / f'p{index}.png'
        path.write_bytes(b'x')
        items.append(ImageRecord(
            f'p{index}', path, 40, 30,
            [Box(name, (1.0, 2, 3.5, 4), dict(difficult=1))
             for name in labels]))
    number_records(items)
    return dict(train=items[:2], test=items[2:])


def info(split):
    return dict(split=split)


def test_to_coco_ids_categories_and_extra_fields(splits):
    data = to_coco(splits['train'], CLASSES, dict(split='train'))
    assert data['info'] == dict(split='train')
    assert [c['name'] for c in data['categories']] == list(CLASSES)
    assert [(i['id'], i['file_name'], i['width'], i['height'])
            for i in data['images']] == [(1, 'p0.png', 40, 30),
                                         (2, 'p1.png', 40, 30)]
    first, second = data['annotations']
    assert first == dict(id=1, image_id=1, category_id=2,
                         bbox=[1, 2, 3.5, 4], area=14, iscrowd=0,
                         difficult=1)
    assert second['category_id'] == 1 and second['id'] == 2
    assert isinstance(first['bbox'][0], int)  # 1.0 written as 1


def test_write_dataset_layout(tmp_path, splits):
    out = tmp_path / 'out'
    write_dataset(out, splits, CLASSES, dict(seed=1), info)
    assert sorted(os.listdir(out)) == ['annotations', 'conversion.json',
                                       'images', 'splits']
    assert json.loads((out / MANIFEST_NAME).read_text()) == dict(seed=1)
    test = json.loads((out / 'annotations/test.json').read_text())
    assert test['info'] == dict(split='test')
    assert [i['id'] for i in test['images']] == [3]
    assert test['annotations'][0]['id'] == 3
    assert (out / 'splits/train.txt').read_text() == 'p0\np1\n'
    link = out / 'images' / 'p1.png'
    assert link.is_symlink() and link.resolve() == (
        tmp_path / 'images_src' / 'p1.png').resolve()
    assert sorted(os.listdir(tmp_path)) == ['images_src', 'out']


def test_failed_write_keeps_previous_output(tmp_path, splits):
    out = tmp_path / 'out'
    write_dataset(out, splits, CLASSES, dict(run=1), info)
    broken = dict(train=splits['train'] + splits['train'])  # duplicate link
    with pytest.raises(FileExistsError):
        write_dataset(out, broken, CLASSES, dict(run=2), info)
    assert json.loads((out / MANIFEST_NAME).read_text()) == dict(run=1)
    assert sorted(os.listdir(tmp_path)) == ['images_src', 'out']
    write_dataset(out, splits, CLASSES, dict(run=3), info)  # own: replaced
    assert json.loads((out / MANIFEST_NAME).read_text()) == dict(run=3)


def test_foreign_folder_or_file_is_refused(tmp_path, splits):
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'notes.txt').write_text('mine')
    with pytest.raises(ConversionError, match='not empty'):
        write_dataset(foreign, splits, CLASSES, {}, info)
    assert os.listdir(foreign) == ['notes.txt']
    (tmp_path / 'file').write_text('x')
    with pytest.raises(ConversionError, match='not a folder'):
        write_dataset(tmp_path / 'file', splits, CLASSES, {}, info)
    empty = tmp_path / 'empty'
    empty.mkdir()
    write_dataset(empty, splits, CLASSES, {}, info)
    assert (empty / 'annotations' / 'train.json').is_file()
    assert Path(empty / 'images').is_dir()
