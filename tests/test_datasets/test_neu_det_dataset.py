"""NEUDETDataset and the NEU-DET configs' data settings."""
import json
import shutil

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmdet.registry import DATASETS, TRANSFORMS

from csdet.datasets import (NEU_DET_CLASSES, CategoryMismatchError,
                            NEUDETDataset)
from csdet.testing.synthetic import make_synthetic_coco
from csdet.utils.config import load_resolved
from tool_loader import load_tool


def infos(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


@pytest.fixture(scope='module')
def conv():
    return load_tool('dataset_converters/neu_det.py')


def dataset_config(repo_root, name, split, data_root, **options):
    """The ``split`` dataset of configs/<name>.py, re-rooted."""
    cfg = load_resolved(str(repo_root / 'configs' / f'{name}.py'),
                        dict(data_root=str(data_root) + '/', **options))
    return cfg, cfg[f'{split}_dataloader'].dataset


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
    cfg = load_resolved(str(repo_root / 'configs/faster-rcnn_r50_fpn_neu.py'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert dataset.type == 'NEUDETDataset'
        assert dataset.data_root == 'data/NEU-DET/'
        assert dataset.data_prefix == dict(img='images/')
        assert tuple(dataset.metainfo['classes']) == NEU_DET_CLASSES
        load = dataset.pipeline[0]
        assert load.type == 'LoadImageFromFile' and load.color_type == 'color'
        assert cfg[loader].num_workers == 2
    assert cfg.train_dataloader.dataset.ann_file == 'annotations/train.json'
    assert cfg.test_dataloader.dataset.ann_file == 'annotations/test.json'
    assert [t.type for t in cfg.train_dataloader.dataset.pipeline] == [
        'LoadImageFromFile', 'LoadAnnotations', 'Resize', 'RandomFlip',
        'PackDetInputs']
    # no ground truth needed to run the test pipeline
    assert 'LoadAnnotations' not in [
        t.type for t in cfg.test_dataloader.dataset.pipeline]
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        coco = evaluator[0]
        assert coco.type == 'CocoMetric' and coco.classwise
        assert coco.ann_file == 'data/NEU-DET/annotations/test.json'


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
    _, dataset_cfg = dataset_config(repo_root, 'faster-rcnn_r50_fpn_neu',
                                    split, tiny_neu, img_size=192)
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
        if split == 'train':
            labels = sample.gt_instances.labels.tolist()
        else:  # the test pipeline carries the dataset's own annotations
            labels = [inst['bbox_label'] for inst in sample.instances]
        assert sorted(labels) == expected
        assert sample.img_path.endswith(ids[sample.img_id])


def test_category_order_is_mapped_by_name(tmp_path):
    """A file listing NEU-DET's categories in another order loads with the
    labels of NEU_DET_CLASSES, not the file's order."""
    paths = make_synthetic_coco(tmp_path, num_images=3, image_size=32,
                                classes=tuple(reversed(NEU_DET_CLASSES)))
    dataset = DATASETS.build(dict(
        type='NEUDETDataset', data_root=str(tmp_path),
        ann_file='annotations/train.json', data_prefix=dict(img='images/'),
        pipeline=[]))
    ann = json.loads(paths['train'].read_text())
    names = {cat['id']: cat['name'] for cat in ann['categories']}
    for info in infos(dataset):
        expected = sorted(NEU_DET_CLASSES.index(names[a['category_id']])
                          for a in ann['annotations']
                          if a['image_id'] == info['img_id'])
        assert sorted(i['bbox_label'] for i in info['instances']) == expected


def test_foreign_categories_are_refused(tmp_path):
    make_synthetic_coco(tmp_path, num_images=2, image_size=32,
                        classes=('dust', 'pit'))
    with pytest.raises(CategoryMismatchError, match='train.json'):
        DATASETS.build(dict(type='NEUDETDataset', data_root=str(tmp_path),
                            ann_file='annotations/train.json',
                            data_prefix=dict(img='images/'), pipeline=[]))
