"""NEUDETDataset, the dataset base configs and the synthetic generator."""
import importlib.util
import json
import shutil
import sys

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmdet.registry import DATASETS, TRANSFORMS

from csdet.datasets import NEU_DET_CLASSES, NEUDETDataset
from csdet.datasets.neu_det import CategoryOrderError
from csdet.testing.synthetic import (BACKGROUND_RANGE, make_synthetic_coco,
                                      render_synthetic_image)

PAINT_CLASSES = ('dust', 'pit', 'sag', 'scratch')


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


@pytest.fixture(scope='module')
def conv(repo_root):
    """The converter module (tools/ is no package, so load it by path)."""
    name = 'csdet_tool_neu_det_converter'
    if name not in sys.modules:
        path = repo_root / 'tools' / 'dataset_converters' / 'neu_det.py'
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def dataset_config(repo_root, name, split, data_root):
    """A dataset entry of configs/_base_/datasets/<name>.py, re-rooted."""
    cfg = Config.fromfile(
        str(repo_root / 'configs' / '_base_' / 'datasets' / f'{name}.py'))
    dataset = cfg[f'{split}_dataloader'].dataset
    dataset.data_root = str(data_root) + '/'
    return cfg, dataset


@pytest.fixture(scope='module')
def tiny_neu(conv, neu_det_root, tmp_path_factory):
    """Two real images per class, converted (1 train + 1 test each)."""
    src = tmp_path_factory.mktemp('neu_src')
    for folder in ('IMAGES', 'ANNOTATIONS'):
        (src / folder).mkdir()
    for cls in NEU_DET_CLASSES:
        for index in (1, 2):
            stem = f'{cls}_{index}'
            shutil.copy(neu_det_root / 'IMAGES' / f'{stem}.jpg',
                        src / 'IMAGES')
            shutil.copy(neu_det_root / 'ANNOTATIONS' / f'{stem}.xml',
                        src / 'ANNOTATIONS')
    out = tmp_path_factory.mktemp('neu_out') / 'NEU-DET'
    conv.convert(src, out, test_per_class=1, progress=False)
    return out


# ------------------------------------------------------------- configs --
def test_neu_config_fields(repo_root):
    cfg = Config.fromfile(
        str(repo_root / 'configs/_base_/datasets/neu_det.py'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.type == 'NEUDETDataset'
        assert dataset.data_root == 'data/NEU-DET/'
        assert dataset.data_prefix == dict(img='images/')
        load = dataset.pipeline[0]
        assert load.type == 'LoadImageFromFile' and load.color_type == 'color'
        assert cfg[loader].num_workers == 2
    assert cfg.train_dataloader.dataset.ann_file == 'annotations/train.json'
    assert cfg.test_dataloader.dataset.ann_file == 'annotations/test.json'
    assert [t.type for t in cfg.train_pipeline] == [
        'LoadImageFromFile', 'LoadAnnotations', 'Resize', 'RandomFlip',
        'PackDetInputs']
    assert cfg.train_pipeline[2].scale == (192, 192)
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        assert evaluator.type == 'CocoMetric' and evaluator.classwise
        assert evaluator.ann_file == 'data/NEU-DET/annotations/test.json'


def test_coco_defect_template_rebinds_everything(repo_root):
    cfg = Config.fromfile(
        str(repo_root / 'configs/_base_/datasets/coco_defect.py'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.type == 'CocoDataset'
        assert dataset.data_root == cfg.data_root != 'data/NEU-DET/'
        assert tuple(dataset.metainfo['classes']) == PAINT_CLASSES
        assert dataset.pipeline[0].color_type == 'color'
    assert cfg.train_dataloader.dataset.ann_file == cfg.train_ann_file
    assert cfg.test_dataloader.dataset.ann_file == cfg.test_ann_file
    assert cfg.test_evaluator.ann_file == cfg.data_root + cfg.test_ann_file


# ------------------------------------------------------------ dataset --
def test_metainfo_matches_project_class_order(conv):
    assert NEUDETDataset.METAINFO['classes'] == NEU_DET_CLASSES == (
        'crazing', 'inclusion', 'patches', 'pitted_surface',
        'rolled-in_scale', 'scratches')
    assert conv.NEU_DET_CLASSES == NEU_DET_CLASSES
    palette = NEUDETDataset.METAINFO['palette']
    assert len(palette) == 6 and len(set(palette)) == 6


def test_neu_image_loads_as_three_channels(tiny_neu):
    load = TRANSFORMS.build(dict(type='LoadImageFromFile',
                                 color_type='color'))
    result = load(dict(img_path=str(tiny_neu / 'images' / 'crazing_1.jpg')))
    img = result['img']
    assert img.shape == (200, 200, 3) and img.dtype == np.uint8
    # grey sensor: the three channels are equal
    assert (img[..., 0] == img[..., 1]).all()
    assert (img[..., 1] == img[..., 2]).all()


@pytest.mark.parametrize('split', ['train', 'test'])
def test_neu_dataset_builds_and_packs(repo_root, tiny_neu, split):
    _, dataset_cfg = dataset_config(repo_root, 'neu_det', split, tiny_neu)
    dataset = DATASETS.build(dataset_cfg)
    assert isinstance(dataset, NEUDETDataset) and len(dataset) == 6
    ann = json.loads((tiny_neu / 'annotations' / f'{split}.json').read_text())
    ids = {img['id']: img['file_name'] for img in ann['images']}
    for index in range(len(dataset)):
        item = dataset[index]
        inputs, sample = item['inputs'], item['data_samples']
        assert tuple(inputs.shape) == (3, 192, 192)
        assert sample.ori_shape == (200, 200)
        expected = sorted(a['category_id'] - 1 for a in ann['annotations']
                          if a['image_id'] == sample.img_id)
        assert sorted(sample.gt_instances.labels.tolist()) == expected
        assert sample.img_path.endswith(ids[sample.img_id])


def test_category_order_mismatch_is_refused(tmp_path):
    paths = make_synthetic_coco(tmp_path, num_images=2, image_size=32,
                                classes=tuple(reversed(NEU_DET_CLASSES)))
    with pytest.raises(CategoryOrderError, match='train.json'):
        DATASETS.build(dict(type='NEUDETDataset', data_root=str(tmp_path),
                            ann_file='annotations/train.json',
                            data_prefix=dict(img='images/'), pipeline=[]))
    assert paths['train'].is_file()


# ---------------------------------------------------------- synthetic --
def _all_bytes(root):
    return {p.relative_to(root): p.read_bytes()
            for p in sorted(root.rglob('*')) if p.is_file()}


def test_synthetic_is_deterministic(tmp_path):
    first = make_synthetic_coco(tmp_path / 'a', num_images=5, seed=3)
    make_synthetic_coco(tmp_path / 'b', num_images=5, seed=3)
    make_synthetic_coco(tmp_path / 'c', num_images=5, seed=4)
    a, b, c = (_all_bytes(tmp_path / n) for n in 'abc')
    assert a == b and len(a) == 5 + 2
    assert a != c
    train = json.loads(first['train'].read_text())
    test = json.loads(first['test'].read_text())
    assert len(train['images']) + len(test['images']) == 5
    assert len(test['images']) >= 1
    # an image does not depend on how many images the set has
    longer = make_synthetic_coco(tmp_path / 'd', num_images=7, seed=3)
    assert (longer['images'] / 'synthetic_0002.png').read_bytes() == (
        first['images'] / 'synthetic_0002.png').read_bytes()


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_synthetic_boxes_are_exact_extents(seed):
    """Each box is the tight pixel extent of its mark; no mark outside."""
    low, high = BACKGROUND_RANGE
    seen_labels = set()
    for index in range(8):
        sample = render_synthetic_image(seed, index, image_size=(80, 112),
                                        max_objects=4)
        height, width = sample.background.shape
        assert sample.image.shape == (height, width, 3) == (80, 112, 3)
        grey = sample.image[..., 0]
        assert (sample.image == grey[..., None]).all()
        assert low <= sample.background.min() and \
            sample.background.max() <= high
        changed = grey != sample.background
        covered = np.zeros_like(changed)
        assert len(sample.bboxes) >= 1
        for x, y, w, h in sample.bboxes.astype(int):
            assert x >= 0 and y >= 0 and w >= 1 and h >= 1
            assert x + w <= width and y + h <= height
            inside = changed[y:y + h, x:x + w]
            # tight: the mark touches all four sides of its box
            assert inside[0].any() and inside[-1].any()
            assert inside[:, 0].any() and inside[:, -1].any()
            covered[y:y + h, x:x + w] = True
        assert not (changed & ~covered).any()
        seen_labels.update(sample.labels.tolist())
    assert seen_labels <= set(range(6))


def test_synthetic_written_files_match_render(tmp_path):
    paths = make_synthetic_coco(tmp_path, num_images=3, image_size=64,
                                seed=9, classes=PAINT_CLASSES)
    train = json.loads(paths['train'].read_text())
    test = json.loads(paths['test'].read_text())
    assert [c['name'] for c in train['categories']] == list(PAINT_CLASSES)
    anns = train['annotations'] + test['annotations']
    for img in train['images'] + test['images']:
        index = img['id'] - 1
        render = render_synthetic_image(9, index, 64, len(PAINT_CLASSES))
        written = cv2.imread(str(paths['images'] / img['file_name']))
        assert np.array_equal(written, render.image)
        boxes = [a['bbox'] for a in anns if a['image_id'] == img['id']]
        labels = [a['category_id'] - 1 for a in anns
                  if a['image_id'] == img['id']]
        assert boxes == render.bboxes.astype(int).tolist()
        assert labels == render.labels.tolist()


def test_synthetic_through_generic_template(repo_root, tmp_path):
    make_synthetic_coco(tmp_path, num_images=4, image_size=(60, 90),
                        classes=PAINT_CLASSES, seed=1)
    _, dataset_cfg = dataset_config(repo_root, 'coco_defect', 'train',
                                    tmp_path)
    dataset = DATASETS.build(dataset_cfg)
    assert dataset.metainfo['classes'] == PAINT_CLASSES
    item = dataset[0]
    # keep_ratio Resize to fit 192 x 192: 60 x 90 -> 128 x 192
    assert tuple(item['inputs'].shape) == (3, 128, 192)
    assert (item['data_samples'].gt_instances.labels < 4).all()
