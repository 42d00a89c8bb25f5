"""The NumPy pieces of csdet/deploy/onnx_runtime.py against the mmcv /
mmdet / csdet code they replace (no ONNX file needed)."""
import numpy as np
import pytest
import torch
from mmcv.ops import batched_nms as mmcv_batched_nms
from mmcv.transforms import Compose
from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
from mmengine.registry import init_default_scope

import csdet  # noqa: F401  (registers LetterBox)
from csdet.deploy.onnx_runtime import (batched_nms, delta2bbox,
                                       normalize_batch, prepare_image)


def random_boxes(rng, count, size=100.0):
    corners = rng.uniform(0, size, (count, 2))
    return np.hstack([corners, corners + rng.uniform(2, 40, (count, 2))
                      ]).astype(np.float32)


@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('class_agnostic', [False, True])
def test_batched_nms_keeps_what_mmcv_keeps(seed, class_agnostic):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 400)
    scores = rng.uniform(0, 1, 400).astype(np.float32)
    labels = rng.integers(0, 4, 400)
    cfg = dict(type='nms', iou_threshold=0.45, class_agnostic=class_agnostic)
    _, expected = mmcv_batched_nms(torch.from_numpy(boxes),
                                   torch.from_numpy(scores),
                                   torch.from_numpy(labels), dict(cfg))
    actual = batched_nms(boxes, scores, labels, cfg)
    np.testing.assert_array_equal(actual, expected.numpy())


def test_batched_nms_refuses_other_types():
    with pytest.raises(NotImplementedError, match="'nms' only"):
        batched_nms(np.zeros((1, 4), np.float32), np.ones(1, np.float32),
                    np.zeros(1, np.int64), dict(type='soft_nms'))


def test_delta2bbox_is_mmdets_decoder():
    rng = np.random.default_rng(0)
    priors = random_boxes(rng, 500, 300)
    deltas = rng.normal(0, 2, (500, 4)).astype(np.float32)  # some clipped
    coder = DeltaXYWHBBoxCoder(target_means=(0., 0., 0., 0.),
                               target_stds=(0.1, 0.1, 0.2, 0.2))
    expected = coder.decode(torch.from_numpy(priors),
                            torch.from_numpy(deltas), max_shape=(300, 280))
    actual = delta2bbox(priors, deltas,
                        dict(means=[0.0] * 4, stds=[0.1, 0.1, 0.2, 0.2],
                             clip_border=True, wh_ratio_clip=16 / 1000),
                        (300, 280))
    np.testing.assert_allclose(actual, expected.numpy(), rtol=0, atol=1e-4)


def pipeline_output(step, image):
    init_default_scope('mmdet')
    return Compose([step])(dict(img=image.copy(), img_shape=image.shape[:2],
                                ori_shape=image.shape[:2]))


@pytest.mark.parametrize('step', [
    dict(type='LetterBox', scale=192, pad_to='stride', size_divisor=32,
         extra_pad_ratio=0.5, interpolation='auto', pad_val=114.0),
    dict(type='LetterBox', scale=(256, 192), pad_to='full'),
    dict(type='Resize', scale=(300, 300), keep_ratio=False),
    dict(type='Resize', scale=(320, 240), keep_ratio=True),
])
@pytest.mark.parametrize('shape', [(200, 200), (150, 230), (90, 60)])
def test_prepare_image_is_the_pipeline_step(step, shape):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, shape + (3, ), dtype=np.uint8)
    expected = pipeline_output(step, image)
    params = dict(step)
    scale = params['scale']
    params['scale'] = [scale, scale] if isinstance(scale, int) else list(
        scale)
    resized, meta = prepare_image(image, params)
    np.testing.assert_array_equal(resized, expected['img'])
    np.testing.assert_allclose(meta['scale_factor'],
                               expected['scale_factor'])
    assert tuple(meta['img_shape']) == tuple(expected['img_shape'])
    assert tuple(meta['ori_shape']) == shape
    if step['type'] == 'LetterBox':
        np.testing.assert_array_equal(meta['pad_param'],
                                      expected['pad_param'])


def test_prepare_image_grey_and_bad_input():
    grey = np.full((50, 80), 7, np.uint8)
    resized, meta = prepare_image(
        grey, dict(type='Resize', scale=[40, 25], keep_ratio=False))
    assert resized.shape == (25, 40, 3) and (resized == 7).all()
    assert meta['scale_factor'] == (0.5, 0.5)
    with pytest.raises(ValueError, match='uint8'):
        prepare_image(grey.astype(np.float32), dict(type='Resize'))
    with pytest.raises(ValueError, match="'RandomCrop' is not supported"):
        prepare_image(grey, dict(type='RandomCrop'))


def test_normalize_batch_is_the_data_preprocessor():
    from mmdet.models.data_preprocessors import DetDataPreprocessor

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, shape, dtype=np.uint8)
              for shape in ((40, 70, 3), (64, 50, 3))]
    norm = dict(mean=[10.0, 20.0, 30.0], std=[2.0, 3.0, 4.0],
                bgr_to_rgb=True, pad_value=0.5, pad_size_divisor=32)
    preprocessor = DetDataPreprocessor(**norm)
    expected = preprocessor(
        dict(inputs=[torch.from_numpy(i).permute(2, 0, 1) for i in images]),
        False)['inputs']
    actual = normalize_batch(images, norm)
    assert actual.shape == (2, 3, 64, 96) and actual.dtype == np.float32
    np.testing.assert_allclose(actual, expected.numpy(), rtol=0, atol=1e-5)
    fixed = normalize_batch(images, norm, input_size=(96, 128))
    assert fixed.shape == (2, 3, 96, 128) and (fixed[:, :, 64:] == 0.5).all()
    with pytest.raises(ValueError, match='--dynamic-shape'):
        normalize_batch(images, norm, input_size=(32, 32))
    with pytest.raises(ValueError, match='empty'):
        normalize_batch([], norm)
