"""csdet.datasets.check: every problem kind, the cache, the config walk."""
import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger

from csdet.datasets import check
from csdet.datasets.check import (bad_images_for, check_coco_dataset,
                                  check_config_datasets, enable_skip_bad)
from csdet.utils.runner_setup import UserInputError

CLASSES = ['dent', 'scratch']


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))


def image(index, width=32, height=24):
    return dict(id=index, file_name=f'img_{index}.png', width=width,
                height=height)


def box(ann_id, image_id, bbox, category_id=1, **extra):
    ann = dict(id=ann_id, image_id=image_id, category_id=category_id,
               bbox=bbox, iscrowd=0)
    ann['area'] = bbox[2] * bbox[3] if all(
        isinstance(v, (int, float)) for v in bbox) else 1
    ann.update(extra)
    return ann


def write_set(root: Path, images, annotations, categories=CLASSES,
              draw=True):
    """COCO file + PNGs of the sizes the entries state (when ``draw``)."""
    (root / 'images').mkdir(parents=True, exist_ok=True)
    if draw:
        for entry in images:
            cv2.imwrite(str(root / 'images' / entry['file_name']),
                        np.full((entry['height'], entry['width'], 3), 128,
                                np.uint8))
    cats = [dict(id=i, name=name) for i, name in enumerate(categories, 1)]
    ann_file = root / 'train.json'
    ann_file.write_text(json.dumps(dict(images=images,
                                        annotations=annotations,
                                        categories=cats)))
    return str(ann_file), str(root / 'images')


@pytest.fixture
def clean_set(tmp_path):
    images = [image(1), image(2), image(3)]
    annotations = [box(1, 1, [2, 2, 10, 8]), box(2, 1, [0, 0, 32, 24], 2),
                   box(3, 2, [5, 5, 4, 4], 2)]
    return write_set(tmp_path / 'clean', images, annotations)


def messages(report):
    return [problem.message for problem in report.problems]


def test_clean_set_counts_and_no_problems(clean_set):
    report = check_coco_dataset(*clean_set, classes=CLASSES, progress=False)
    assert report.ok and report.skippable
    assert (report.num_images, report.num_boxes,
            report.num_negative_images) == (3, 3, 1)
    assert report.format().endswith('no problems found.')


def test_class_order_is_not_a_problem(clean_set):
    report = check_coco_dataset(*clean_set, classes=CLASSES[::-1],
                                progress=False)
    assert report.ok


def test_misspelled_class_lists_missing_and_extra(clean_set):
    report = check_coco_dataset(*clean_set, classes=['dent', 'scrach'],
                                progress=False)
    assert len(report.problems) == 1 and not report.skippable
    problem = report.problems[0]
    assert problem.file == clean_set[0]
    assert "missing from the file ['scrach']" in problem.message
    assert "not in the config ['scratch'] (2 box(es)" in problem.message
    assert "['dent', 'scratch']" in problem.fix
    assert report.format().splitlines()[-1].startswith('Fix the files')
    assert '--skip-bad cannot help' in report.format()


def test_repeated_class_is_a_problem(clean_set):
    report = check_coco_dataset(*clean_set, classes=CLASSES + ['dent'],
                                progress=False)
    assert any('more than once' in m for m in messages(report))


@pytest.mark.parametrize('content,expected', [
    ('{"images": [', 'is not valid JSON'),
    ('[1, 2]', 'top level is a list'),
    ('{"images": [], "categories": []}', "no list ['annotations']"),
])
def test_unreadable_or_non_coco_file(tmp_path, content, expected):
    ann_file = tmp_path / 'bad.json'
    ann_file.write_text(content)
    report = check_coco_dataset(str(ann_file), str(tmp_path),
                                classes=CLASSES, progress=False)
    assert len(report.problems) == 1 and not report.skippable
    assert expected in report.problems[0].message
    assert report.problems[0].file == str(ann_file)


def test_missing_annotation_file(tmp_path):
    report = check_coco_dataset(str(tmp_path / 'absent.json'), '',
                                progress=False)
    assert messages(report) == ['annotation file not found']


def test_unknown_category_and_image_ids(tmp_path):
    images = [image(1), image(2)]
    annotations = [box(1, 1, [1, 1, 5, 5], category_id=7),
                   box(2, 9, [1, 1, 5, 5]), box(3, 2, [1, 1, 5, 5])]
    ann_file, img_dir = write_set(tmp_path, images, annotations)
    report = check_coco_dataset(ann_file, img_dir, CLASSES, progress=False)
    assert len(report.problems) == 2 and report.skippable
    by_file = {p.file: p.message for p in report.problems}
    assert 'category_id 7' in by_file[os.path.join(img_dir, 'img_1.png')]
    assert 'image_id 9' in by_file[ann_file]
    assert report.bad_image_ids == {1}
    assert report.bad_file_names == {'img_1.png'}


def test_image_file_problems(tmp_path):
    images = [image(i) for i in range(1, 6)]
    ann_file, img_dir = write_set(tmp_path, images, [])
    os.remove(os.path.join(img_dir, 'img_1.png'))
    open(os.path.join(img_dir, 'img_2.png'), 'wb').close()
    with open(os.path.join(img_dir, 'img_3.png'), 'wb') as f:
        f.write(b'not an image at all' * 10)
    cv2.imwrite(os.path.join(img_dir, 'img_4.png'),
                np.zeros((24, 30, 3), np.uint8))  # JSON says 32 x 24
    report = check_coco_dataset(ann_file, img_dir, CLASSES, progress=False)
    by_name = {os.path.basename(p.file): p.message for p in report.problems}
    assert by_name == {
        'img_1.png': 'image file not found',
        'img_2.png': 'image file is empty (0 bytes)',
        'img_3.png': 'does not decode as an image',
        'img_4.png': 'decodes to 30 x 24 px but the annotation file says '
                     '32 x 24 (boxes would be misplaced)'}
    assert report.bad_image_ids == {1, 2, 3, 4}
    assert report.skippable and report.num_negative_images == 5
    text = report.format()
    assert text.splitlines()[-1] == (
        'Fix the files above, or pass --skip-bad to leave out the 4 bad '
        'image(s) and use the other 1.')
    assert text.count('fix: replace the image') == 3


def test_box_problems_mark_their_image_bad(tmp_path):
    images = [image(i) for i in range(1, 8)]
    annotations = [
        box(1, 1, [1, 1, float('nan'), 4]),
        box(2, 2, [1, 1, 0, 4]),
        box(3, 3, [1, 1, 4, -2]),
        box(4, 4, [20, 10, 14.5, 4]),   # right edge at 34.5 > 32 + 1
        box(5, 5, [-0.5, 0, 32.5, 24]),  # within the 1 px tolerance
        box(6, 6, [1, 1, 5, 5], area=0),
        box(7, 7, [1, 1, 0, 0], ignore=True),  # ignored: not checked
    ]
    ann_file, img_dir = write_set(tmp_path, images, annotations)
    report = check_coco_dataset(ann_file, img_dir, CLASSES, progress=False)
    assert report.bad_image_ids == {1, 2, 3, 4, 6}
    text = '\n'.join(messages(report))
    assert 'annotation 1: bbox [1, 1, nan, 4] is not finite' in text
    assert 'annotation 2: bbox [1, 1, 0, 4] is less than 1 px' in text
    assert 'annotation 3: bbox [1, 1, 4, -2] is less than 1 px' in text
    assert 'annotation 4: bbox [20, 10, 14.5, 4] leaves the 32 x 24' in text
    assert 'annotation 6: area 0 is missing or <= 0' in text
    assert len(report.problems) == 5


def test_all_images_missing_is_one_folder_problem(tmp_path):
    images = [image(i) for i in range(1, 4)]
    ann_file, _ = write_set(tmp_path, images, [], draw=False)
    report = check_coco_dataset(ann_file, str(tmp_path / 'elsewhere'),
                                progress=False)
    assert len(report.problems) == 1 and not report.skippable
    assert 'none of its 3 images' in report.problems[0].message
    assert report.bad_image_ids == {1, 2, 3}


def test_duplicate_ids_cannot_be_skipped(tmp_path):
    annotations = [box(1, 1, [1, 1, 5, 5]), box(1, 1, [2, 2, 5, 5])]
    ann_file, img_dir = write_set(tmp_path, [image(1), image(1)],
                                  annotations)
    report = check_coco_dataset(ann_file, img_dir, progress=False)
    assert not report.skippable
    assert any('image id 1 is used twice' in m for m in messages(report))
    assert any('annotation id 1 is used twice' in m
               for m in messages(report))


def test_cache_hit_decodes_nothing(clean_set, tmp_path, monkeypatch):
    decoded = []
    original = check.decode_image

    def counting(data):
        decoded.append(len(data))
        return original(data)

    monkeypatch.setattr(check, 'decode_image', counting)
    first = check_coco_dataset(*clean_set, classes=CLASSES, progress=False)
    assert len(decoded) == 3
    cached = list((tmp_path / 'cache' / 'csdet' / 'dataset_checks').glob(
        '*.pkl'))
    assert len(cached) == 1
    second = check_coco_dataset(*clean_set, classes=['x'], progress=False)
    assert len(decoded) == 3  # nothing decoded again
    assert second.num_boxes == first.num_boxes == 3
    assert not second.ok  # classes are compared on every call
    # A changed image (size and mtime) invalidates the cached result.
    path = os.path.join(clean_set[1], 'img_2.png')
    with open(path, 'wb') as f:
        f.write(b'broken')
    third = check_coco_dataset(*clean_set, classes=CLASSES, progress=False)
    assert len(decoded) == 6
    assert third.bad_file_names == {'img_2.png'}
    # cache=False always decodes.
    check_coco_dataset(*clean_set, progress=False, cache=False)
    assert len(decoded) == 9


def test_bad_images_for_returns_file_names(clean_set, monkeypatch):
    path = os.path.join(clean_set[1], 'img_3.png')
    with open(path, 'wb') as f:
        f.write(b'broken')
    assert bad_images_for(*clean_set) == {'img_3.png'}  # checks: not cached
    monkeypatch.setattr(check, 'decode_image', None)  # cached: no decoding
    assert bad_images_for(*clean_set) == {'img_3.png'}


# ---- config level -------------------------------------------------------
def config_for(train, test, classes=CLASSES, dataset_type='CocoDataset'):
    """A loaded config whose train set sits in a MultiImageMixDataset."""
    def dataset(paths, **extra):
        root = os.path.dirname(paths[0])
        return dict(type=dataset_type, data_root=root + '/',
                    ann_file=os.path.basename(paths[0]),
                    data_prefix=dict(img='images/'),
                    metainfo=dict(classes=classes), pipeline=[], **extra)

    return Config(dict(
        train_dataloader=dict(dataset=dict(
            type='MultiImageMixDataset', dataset=dataset(train),
            pipeline=[])),
        val_dataloader=dict(dataset=dataset(test, test_mode=True)),
        test_dataloader=dict(dataset=dataset(test, test_mode=True))))


@pytest.fixture
def two_splits(tmp_path):
    annotations = [box(1, 1, [1, 1, 5, 5])]
    train = write_set(tmp_path / 'a', [image(1), image(2)], annotations)
    test = write_set(tmp_path / 'b', [image(1), image(2)], annotations)
    for paths, name in ((train, 'img_2.png'), (test, 'img_1.png')):
        with open(os.path.join(paths[1], name), 'wb') as f:
            f.write(b'broken')
    return train, test


def test_config_check_lists_every_split_at_once(two_splits):
    cfg = config_for(*two_splits)
    with pytest.raises(UserInputError) as error:
        check_config_datasets(cfg)
    text = str(error.value)
    assert 'found 2 problem(s)' in text
    assert '[train]' in text and '[val+test]' in text
    assert os.path.join(two_splits[0][1], 'img_2.png') in text
    assert os.path.join(two_splits[1][1], 'img_1.png') in text


def test_config_check_skip_bad_logs_counts(two_splits):
    cfg = config_for(*two_splits)
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = Collect()
    logger.addHandler(handler)
    try:
        reports = check_config_datasets(cfg, splits=('train', 'test'),
                                        skip_bad=True)
    finally:
        logger.removeHandler(handler)
    assert [len(r.bad_image_ids) for r in reports] == [1, 1]
    assert any('train: leaving out 1 of 2 images' in r for r in records)
    assert any('test: leaving out 1 of 2 images' in r for r in records)


def test_skip_bad_does_not_hide_a_class_mismatch(clean_set):
    cfg = config_for(clean_set, clean_set, classes=['dent', 'scrach'])
    with pytest.raises(UserInputError, match='scrach'):
        check_config_datasets(cfg, splits=('train', ), skip_bad=True)


def test_enable_skip_bad_refuses_plain_coco(clean_set):
    cfg = config_for(clean_set, clean_set)
    with pytest.raises(UserInputError, match='train dataset is CocoDataset'):
        enable_skip_bad(cfg, splits=('train', ))


@pytest.fixture
def skipping_type():
    from mmdet.datasets import CocoDataset
    from mmdet.registry import DATASETS

    @DATASETS.register_module(name='_CheckTestSkippingDataset', force=True)
    class Skipping(CocoDataset):
        def __init__(self, *args, skip_bad: bool = False, **kwargs):
            super().__init__(*args, **kwargs)

    return '_CheckTestSkippingDataset'


def test_enable_skip_bad_sets_the_innermost_dataset(clean_set,
                                                    skipping_type):
    cfg = config_for(clean_set, clean_set, dataset_type=skipping_type)
    enable_skip_bad(cfg, splits=('train', 'val'))
    assert cfg.train_dataloader.dataset.dataset.skip_bad is True
    assert cfg.val_dataloader.dataset.skip_bad is True
    assert 'skip_bad' not in cfg.test_dataloader.dataset
    assert 'skip_bad' not in cfg.train_dataloader.dataset


def test_skip_bad_makes_coco_metric_evaluate_the_kept_images(
        clean_set, skipping_type):
    cfg = config_for(clean_set, clean_set, dataset_type=skipping_type)
    metrics = [dict(type='CocoMetric', ann_file=clean_set[0]),
               dict(type='CostMetric')]
    cfg.val_evaluator = metrics
    # The metric would read every image of the file, and the pipeline does
    # not hand it the kept images' boxes: refused.
    cfg.val_dataloader.dataset.pipeline = [dict(type='PackDetInputs')]
    with pytest.raises(UserInputError, match="Add 'instances'"):
        enable_skip_bad(cfg, splits=('val', ))
    cfg.val_dataloader.dataset.pipeline = [dict(
        type='PackDetInputs', meta_keys=('img_id', 'instances'))]
    enable_skip_bad(cfg, splits=('val', ))
    assert cfg.val_evaluator == [dict(type='CocoMetric'),
                                 dict(type='CostMetric')]
