"""SSD300 ONNX export (csdet.deploy) against the PyTorch model.

Model: CS-SSD300 (VGG16 from scratch, 6 classes) from
configs/cs_ssd300_neu_quick.py with its initial weights (image-dependent
outputs already). Images: 8 NEU-DET images (every 225th of the sorted
1,800), or 8 synthetic ones when NEU-DET is absent, through the config's
test pipeline (Resize to 300 x 300).
"""
import numpy as np
import pytest
import torch
from deploy_helpers import (REPO, assert_same_detections, collate,
                            preprocess, pytorch_predictions, raw_outputs,
                            sample_image_paths)

from csdet.deploy.onnx_export import build_detector, export_model
from csdet.deploy.onnx_runtime import OnnxDetector, postprocess
from csdet.utils.runner_setup import load_config

CONFIG = str(REPO / 'configs' / 'cs_ssd300_neu_quick.py')
NUM_IMAGES = 8


@pytest.fixture(scope='module')
def setup(request, tmp_path_factory):
    """(model, export result, collated test batch)."""
    cfg = load_config(CONFIG)
    torch.manual_seed(0)
    model = build_detector(cfg)
    paths = sample_image_paths(request, tmp_path_factory.mktemp('images'),
                               NUM_IMAGES, step=225)
    path = tmp_path_factory.mktemp('onnx') / 'ssd300.onnx'
    result = export_model(model, cfg, str(path), dynamic_batch=True,
                          config_path=CONFIG)
    return model, result, collate(cfg, paths), paths


def test_raw_outputs_match_pytorch_within_1e4(setup):
    model, result, batch, _ = setup
    inputs, _ = preprocess(model, batch)
    assert inputs.shape == (NUM_IMAGES, 3, 300, 300)
    actual = OnnxDetector(str(result['path']),
                          num_threads=2).forward(inputs.numpy())
    expected = raw_outputs(model, inputs)
    assert [out.shape[1:] for out in actual] == [
        (4 * 7, 38, 38), (6 * 7, 19, 19), (6 * 7, 10, 10), (6 * 7, 5, 5),
        (4 * 7, 3, 3), (4 * 7, 1, 1), (4 * 4, 38, 38), (6 * 4, 19, 19),
        (6 * 4, 10, 10), (6 * 4, 5, 5), (4 * 4, 3, 3), (4 * 4, 1, 1)
    ]
    for ort_out, torch_out in zip(actual, expected):
        np.testing.assert_allclose(ort_out, torch_out, rtol=0, atol=1e-4)


def test_metadata(setup):
    model, result, _, _ = setup
    meta = OnnxDetector(str(result['path'])).meta
    assert meta['model_type'] == 'SSD'
    assert meta['input_size'] == [300, 300]
    assert meta['outputs'][:2] == ['cls_l0', 'cls_l1']
    assert meta['resize'] == dict(type='Resize', scale=[300, 300],
                                  keep_ratio=False)
    assert meta['normalization']['std'] == [58.395, 57.12, 57.375]
    generator = model.bbox_head.prior_generator
    assert meta['strides'] == [list(map(float, s)) for s in generator.strides]
    np.testing.assert_array_equal(
        np.concatenate([np.asarray(b, np.float32)
                        for b in meta['base_anchors']]),
        torch.cat(generator.base_anchors).numpy())
    assert meta['bbox_coder'] == dict(means=[0.0] * 4,
                                      stds=[0.1, 0.1, 0.2, 0.2],
                                      clip_border=True, wh_ratio_clip=0.016)
    assert meta['test_cfg']['max_per_img'] == 200


@pytest.mark.parametrize('override', [
    None,  # the config's: score 0.02, top 1000 per level, 200 per image
    dict(score_thr=0.3, nms_pre=50, min_bbox_size=8,
         nms=dict(type='nms', iou_threshold=0.3)),
])
def test_postprocess_is_predict_by_feat(setup, override):
    """On the same raw outputs the NumPy post-processing reproduces
    CSSSDHead's predictions (softmax, per-level top-k, decoding, rescale,
    min size, NMS), cls_probs included."""
    model, result, batch, _ = setup
    inputs, samples = preprocess(model, batch)
    meta = OnnxDetector(str(result['path'])).meta
    cfg = dict(meta['test_cfg'], **(override or {}))
    expected = pytorch_predictions(model, inputs, samples, cfg)
    actual = postprocess(raw_outputs(model, inputs), meta,
                         [sample.metainfo for sample in samples], cfg)
    assert sum(len(item['scores']) for item in actual) > 0
    for exp, act in zip(expected, actual):
        assert_same_detections(exp, act, box_atol=1e-3, atol=1e-6,
                               max_per_img=cfg['max_per_img'])


def test_images_to_detections_with_onnxruntime(setup):
    """Image files -> onnx_runtime.py's resize, normalisation, the ONNX
    network and post-processing -> PyTorch's detections."""
    import cv2

    model, result, batch, paths = setup
    inputs, samples = preprocess(model, batch)
    cfg = dict(model.bbox_head.test_cfg)
    expected = pytorch_predictions(model, inputs, samples, cfg)
    runner = OnnxDetector(str(result['path']), num_threads=2)
    actual = runner.predict_images([cv2.imread(str(p)) for p in paths])
    for exp, act in zip(expected, actual):
        assert_same_detections(exp, act, max_per_img=cfg['max_per_img'])


def test_ssd_size_options_are_refused(setup, tmp_path):
    model, _, _, _ = setup
    cfg = load_config(CONFIG)
    for options in (dict(img_size=320), dict(dynamic_shape=True)):
        with pytest.raises(ValueError, match='300 x 300 input only'):
            export_model(model, cfg, str(tmp_path / 'ssd.onnx'), **options)
    assert list(tmp_path.iterdir()) == []
