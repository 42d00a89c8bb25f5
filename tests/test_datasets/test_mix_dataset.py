"""CachedMultiImageMixDataset gives the training samples of mmdet's
MultiImageMixDataset (same seeds -> same images, boxes, labels), with and
without the RAM cache, and leaves the cache untouched."""
import random

import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS
from mmengine.registry import init_default_scope

from csdet.utils.config import load_resolved


@pytest.fixture(scope='module')
def dataset_cfg(synthetic_set, repo_root):
    init_default_scope('mmdet')
    cfg = load_resolved(
        str(repo_root / 'configs' / 'yolov5_neu_quick.py'),
        dict(img_size=64, data_root=str(synthetic_set['root']) + '/'))
    return cfg.train_dataloader.dataset


def build(dataset_cfg, wrapper, **kwargs):
    cfg = dataset_cfg.copy()
    cfg.pop('cache_images', None)
    cfg.update(type=wrapper, **kwargs)
    return DATASETS.build(cfg)


def draw(dataset, indexes, seed=0):
    random.seed(seed)
    np.random.seed(seed)
    return [dataset[index] for index in indexes]


def assert_same_samples(got, expected):
    assert len(got) == len(expected)
    for ours, theirs in zip(got, expected):
        assert torch.equal(ours['inputs'], theirs['inputs'])
        ours, theirs = ours['data_samples'], theirs['data_samples']
        assert torch.equal(ours.gt_instances.bboxes.tensor,
                           theirs.gt_instances.bboxes.tensor)
        assert torch.equal(ours.gt_instances.labels,
                           theirs.gt_instances.labels)
        assert torch.equal(ours.ignored_instances.bboxes.tensor,
                           theirs.ignored_instances.bboxes.tensor)
        assert ours.metainfo.keys() == theirs.metainfo.keys()
        assert ours.img_shape == theirs.img_shape == (64, 64)


@pytest.mark.parametrize('cache_images', [False, True])
def test_same_samples_as_mmdet_wrapper(dataset_cfg, cache_images):
    indexes = [0, 1, 2, 3, 0, 5, 1, 4]  # repeats: the cache is reused
    expected = draw(build(dataset_cfg, 'MultiImageMixDataset'), indexes)
    dataset = build(dataset_cfg, 'CachedMultiImageMixDataset',
                    cache_images=cache_images)
    got = draw(dataset, indexes)
    assert_same_samples(got, expected)
    assert sum(len(s['data_samples'].gt_instances) for s in got) >= 8
    # a second pass over the (now used) cache still agrees
    assert_same_samples(draw(dataset, indexes, seed=3),
                        draw(build(dataset_cfg, 'MultiImageMixDataset'),
                             indexes, seed=3))


def test_cache_holds_read_only_images_and_logs_the_size(dataset_cfg,
                                                        monkeypatch):
    log = []
    monkeypatch.setattr('csdet.datasets.mix_dataset.print_log',
                        lambda message, logger: log.append(message))
    dataset = build(dataset_cfg, 'CachedMultiImageMixDataset',
                    cache_images=True)
    inner = dataset.dataset
    assert len(dataset._cache) == len(inner) == 6
    first = dataset._cache[0]
    assert not first['img'].flags.writeable
    with pytest.raises(ValueError):
        first['img'][0, 0, 0] = 1
    sample = dataset._sample(0)
    assert sample['img'] is first['img']
    assert sample['gt_bboxes'] is not first['gt_bboxes']
    sample['gt_bboxes'].tensor += 5  # a transform editing boxes in place
    assert torch.equal(dataset._sample(0)['gt_bboxes'].tensor,
                       first['gt_bboxes'].tensor)
    megabytes = 6 * 96 * 96 * 3 / 2**20
    assert log == [
        f'cache_images: loading 6 images into memory, about {megabytes:.1f} '
        'MB (first image x 6)',
        f'cache_images: {megabytes:.1f} MB held for 6 images']


def test_a_transform_returning_none_is_an_error(dataset_cfg):
    dataset = build(dataset_cfg, 'CachedMultiImageMixDataset')
    dataset.pipeline[-1] = lambda results: None
    with pytest.raises(RuntimeError, match='PackDetInputs returned None'):
        dataset[0]


def test_cache_needs_loaded_images(dataset_cfg):
    cfg = dataset_cfg.copy()
    cfg.dataset = dict(cfg.dataset, pipeline=[
        dict(type='LoadAnnotations', with_bbox=True)])
    with pytest.raises(ValueError, match='LoadImageFromFile'):
        build(cfg, 'CachedMultiImageMixDataset', cache_images=True)
