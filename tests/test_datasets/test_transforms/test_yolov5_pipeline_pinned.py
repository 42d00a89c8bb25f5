"""The YOLOv5 training chain (Mosaic -> RandomPerspective -> HSV -> flip)
and LetterBox give the outputs pinned in pinned/yolov5_pipeline.npz,
written by this file's ``pipeline_outputs()`` before the transforms moved to
mmdet's box structures: speed work must not change a training sample.

Regenerate only for an intended change of the outputs:
    python tests/test_datasets/test_transforms/test_yolov5_pipeline_pinned.py
"""
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes

from csdet.datasets.transforms import (LetterBox, YOLOv5HSVRandomAug,
                                       YOLOv5Mosaic, YOLOv5RandomPerspective)

PINNED = Path(__file__).parent / 'pinned' / 'yolov5_pipeline.npz'
SCALE = 64
SEEDS = range(6)


def textured_sample(seed, as_boxes):
    """A random-texture image with 1-4 random boxes (some at the border)."""
    rng = np.random.RandomState(100 + seed)
    height, width = rng.randint(48, 120, size=2)
    img = rng.randint(0, 256, (height, width, 3)).astype(np.uint8)
    count = rng.randint(1, 5)
    xy = rng.uniform(-5, [width - 4, height - 4], size=(count, 2))
    wh = rng.uniform(3, 40, size=(count, 2))
    boxes = np.concatenate((xy, xy + wh), 1).clip(
        0, [width, height, width, height]).astype(np.float32)
    return dict(img=img, img_shape=(height, width),
                gt_bboxes=HorizontalBoxes(boxes) if as_boxes else boxes,
                gt_bboxes_labels=rng.randint(0, 6, count),
                gt_ignore_flags=rng.rand(count) < 0.2)


def train_chain(perspective):
    return [YOLOv5Mosaic(img_scale=SCALE),
            YOLOv5RandomPerspective(translate=0.1, scale=0.5, degrees=5,
                                    shear=2, perspective=perspective,
                                    border=(-SCALE // 2, -SCALE // 2)),
            YOLOv5HSVRandomAug()]


def as_array(boxes):
    return boxes.numpy() if hasattr(boxes, 'numpy') else np.asarray(boxes)


def pipeline_outputs():
    """name -> array, for every seed: the training chain's image, boxes,
    labels and ignore flags, and LetterBox's image, boxes and params."""
    outputs = {}
    for seed in SEEDS:
        as_boxes = seed % 2 == 0
        random.seed(seed)
        np.random.seed(seed)
        results = textured_sample(4 * seed, as_boxes)
        results['mix_results'] = [textured_sample(4 * seed + k, as_boxes)
                                  for k in (1, 2, 3)]
        for transform in train_chain(perspective=0.0003 * (seed % 2)):
            results = transform(results)
        outputs[f'train{seed}_img'] = results['img']
        outputs[f'train{seed}_boxes'] = as_array(results['gt_bboxes'])
        outputs[f'train{seed}_labels'] = np.asarray(
            results['gt_bboxes_labels'])
        outputs[f'train{seed}_ignore'] = np.asarray(
            results['gt_ignore_flags'])

        sample = textured_sample(50 + seed, as_boxes)
        pad_to = 'full' if seed % 3 else 'stride'
        letterboxed = LetterBox(scale=SCALE, pad_to=pad_to,
                                extra_pad_ratio=0.5)(sample)
        outputs[f'letterbox{seed}_img'] = letterboxed['img']
        outputs[f'letterbox{seed}_boxes'] = as_array(
            letterboxed['gt_bboxes'])
        outputs[f'letterbox{seed}_params'] = np.concatenate(
            (letterboxed['pad_param'],
             np.asarray(letterboxed['scale_factor'], np.float32)))
    return outputs


@pytest.fixture(scope='module')
def pinned():
    with np.load(PINNED) as data:
        return dict(data)


@pytest.fixture(scope='module')
def current():
    return pipeline_outputs()


def test_same_keys(pinned, current):
    assert sorted(pinned) == sorted(current)
    # the samples are not trivial: boxes kept, some dropped, ignore flags
    kept = [len(current[f'train{seed}_boxes']) for seed in SEEDS]
    assert min(kept) >= 1 and sum(kept) >= 10


@pytest.mark.parametrize('key', sorted(pipeline_outputs()))
def test_output_equals_the_pinned_one(pinned, current, key):
    got, expected = current[key], pinned[key]
    assert got.shape == expected.shape and got.dtype == expected.dtype
    if key.endswith('_img'):
        # OpenCV may round a pixel differently on another CPU
        difference = np.abs(got.astype(int) - expected.astype(int))
        assert difference.max() <= 1 and (difference > 0).mean() < 1e-3
    else:
        np.testing.assert_array_equal(got, expected)


if __name__ == '__main__':
    PINNED.parent.mkdir(exist_ok=True)
    np.savez_compressed(PINNED, **pipeline_outputs())
    print(f'wrote {PINNED}', file=sys.stderr)
