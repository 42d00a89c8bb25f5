"""YOLOv5 ONNX export (csdet.deploy) against the PyTorch model.

Model: YOLOv5n, 6 classes, from configs/yolov5_neu_quick.py, not trained.
Straight after ``init_weights`` its outputs hardly depend on the image
(eval-mode BatchNorm with unit statistics; every image gives the same
detections), so the parity of detections is checked on a *calibrated*
copy: BatchNorm statistics measured on the test images and the objectness
bias raised by 4, which gives image-dependent raw outputs of a trained
model's scale (logits up to ~12) and detections above 0.2 on some images.

Images: 20 NEU-DET images (every 90th of the sorted 1,800, all six classes)
through the config's test pipeline (letterbox 192 -> 224 x 224), or 20
synthetic images (csdet.testing) when NEU-DET is absent.
"""
import copy
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from deploy_helpers import (REPO, assert_same_detections, collate,
                            preprocess, pytorch_predictions, raw_outputs,
                            sample_image_paths)

from csdet.deploy import onnx_runtime
from csdet.deploy.onnx_export import (ExportNotSupported, build_detector,
                                      export_model, export_onnx)
from csdet.deploy.onnx_runtime import (OnnxDetector, postprocess,
                                       read_metadata)
from csdet.utils.runner_setup import load_config

CONFIG = str(REPO / 'configs' / 'yolov5_neu_quick.py')
NUM_IMAGES = 20
DETECTION_CFG = dict(score_thr=0.2, nms_pre=30000,
                     nms=dict(type='nms', iou_threshold=0.6),
                     max_per_img=300, multi_label=True)


@pytest.fixture(scope='module')
def image_paths(request, tmp_path_factory):
    return sample_image_paths(request, tmp_path_factory.mktemp('images'),
                              NUM_IMAGES, step=90)


@pytest.fixture(scope='module')
def cfg():
    return load_config(CONFIG)


@pytest.fixture(scope='module')
def batch(cfg, image_paths):
    return collate(cfg, image_paths)


@pytest.fixture(scope='module')
def initial(cfg, tmp_path_factory):
    """The initial-weights model and its export (batch 1, 224 x 224)."""
    torch.manual_seed(0)
    model = build_detector(cfg)
    path = tmp_path_factory.mktemp('onnx') / 'yolov5n_init.onnx'
    result = export_model(model, cfg, str(path), config_path=CONFIG)
    return model, result


@pytest.fixture(scope='module')
def calibrated(cfg, batch, tmp_path_factory):
    """The calibrated model (module docstring) and its export with dynamic
    batch and spatial axes."""
    torch.manual_seed(1)
    model = build_detector(cfg)
    inputs, _ = preprocess(model, batch)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative: the batch's statistics
    with torch.no_grad():
        model.train()
        model.extract_feat(inputs)
        model.eval()
        for conv in model.bbox_head.convs_pred:
            conv.bias.view(model.bbox_head.num_base_priors, -1)[:, 4] += 4.0
    path = tmp_path_factory.mktemp('onnx') / 'yolov5n_calibrated.onnx'
    result = export_model(model, cfg, str(path), dynamic_batch=True,
                          dynamic_shape=True, config_path=CONFIG)
    return model, result


def test_raw_outputs_match_pytorch_within_1e4(initial, batch):
    model, result = initial
    inputs, _ = preprocess(model, batch)
    assert inputs.shape == (NUM_IMAGES, 3, 224, 224)
    runner = OnnxDetector(str(result['path']), num_threads=2)
    expected = raw_outputs(model, inputs)
    for index in range(NUM_IMAGES):  # exported for batch 1
        actual = runner.forward(inputs[index:index + 1].numpy())
        for level, output in enumerate(actual):
            assert output.shape == expected[level][index:index + 1].shape
            np.testing.assert_allclose(
                output, expected[level][index:index + 1], rtol=0, atol=1e-4)


def test_calibrated_raw_outputs_are_as_accurate_as_pytorch(calibrated,
                                                          batch):
    """At a trained model's scale float32 rounding alone moves the logits by
    ~3e-4 (PyTorch float32 vs PyTorch float64), above 1e-4; onnxruntime must
    stay as close to the float64 result as PyTorch's float32 is."""
    model, result = calibrated
    inputs, _ = preprocess(model, batch)
    runner = OnnxDetector(str(result['path']), num_threads=2)
    actual = runner.forward(inputs.numpy())
    expected = raw_outputs(model, inputs)
    exact = [out.astype(np.float32) for out in
             raw_outputs(copy.deepcopy(model).double(), inputs.double())]
    for ort_out, torch_out, exact_out in zip(actual, expected, exact):
        ort_error = np.abs(ort_out - exact_out).max()
        torch_error = np.abs(torch_out - exact_out).max()
        assert ort_error <= 1.5 * torch_error + 1e-5, (ort_error,
                                                       torch_error)
        np.testing.assert_allclose(ort_out, torch_out, rtol=1e-3, atol=1e-3)


def test_final_detections_match_pytorch(calibrated, batch):
    model, result = calibrated
    inputs, samples = preprocess(model, batch)
    expected = pytorch_predictions(model, inputs, samples, DETECTION_CFG)
    runner = OnnxDetector(str(result['path']), num_threads=2)
    actual = runner.predict(inputs.numpy(),
                            [sample.metainfo for sample in samples],
                            test_cfg=DETECTION_CFG)
    counts = [len(item['scores']) for item in actual]
    assert sum(counts) > 20 and counts.count(0) > 0  # both cases occur
    for exp, act in zip(expected, actual):
        assert_same_detections(exp, act)


@pytest.mark.parametrize('test_cfg', [
    None,  # the config's own: score 0.001, multi-label, 300 per image
    dict(score_thr=0.05, multi_label=False, max_per_img=50,
         nms=dict(type='nms', iou_threshold=0.45)),
    dict(score_thr=0.05, nms_pre=100,
         nms=dict(type='nms', iou_threshold=0.5, class_agnostic=True)),
])
def test_postprocess_is_predict_by_feat(calibrated, batch, test_cfg):
    """On the same raw outputs the NumPy post-processing reproduces
    YOLOv5Head.predict_by_feat (decode, thresholds, NMS, rescale)."""
    model, result = calibrated
    inputs, samples = preprocess(model, batch)
    meta = read_metadata(str(result['path']))
    cfg = dict(meta['test_cfg'], **(test_cfg or {}))
    expected = pytorch_predictions(model, inputs, samples, cfg)
    actual = postprocess(raw_outputs(model, inputs), meta,
                         [sample.metainfo for sample in samples], cfg)
    for exp, act in zip(expected, actual):
        assert_same_detections(exp, act, box_atol=1e-3, atol=1e-6,
                               max_per_img=cfg['max_per_img'])


def test_dynamic_axes(calibrated, batch):
    model, result = calibrated
    inputs, _ = preprocess(model, batch)
    runner = OnnxDetector(str(result['path']), num_threads=2)
    whole = runner.forward(inputs.numpy())
    for index in (0, 7):
        single = runner.forward(inputs[index:index + 1].numpy())
        for level in range(3):
            np.testing.assert_allclose(single[level][0], whole[level][index],
                                       rtol=0, atol=1e-5)
    wide = torch.rand(2, 3, 192, 256, generator=torch.Generator().manual_seed(
        0))
    actual = runner.forward(wide.numpy())
    expected = raw_outputs(model, wide)
    assert [out.shape[2:] for out in actual] == [(24, 32), (12, 16), (6, 8)]
    for ort_out, torch_out in zip(actual, expected):
        np.testing.assert_allclose(ort_out, torch_out, rtol=1e-3, atol=2e-3)


def test_fixed_export_refuses_other_shapes(initial):
    runner = OnnxDetector(str(initial[1]['path']))
    with pytest.raises(ValueError, match='--dynamic-batch'):
        runner.forward(np.zeros((2, 3, 224, 224), np.float32))
    with pytest.raises(ValueError, match='224 x 224.*--dynamic-shape'):
        runner.forward(np.zeros((1, 3, 192, 192), np.float32))
    with pytest.raises(ValueError, match='float32'):
        runner.forward(np.zeros((1, 3, 224, 224), np.float64))


def test_metadata_is_enough_to_run(initial, cfg):
    model, result = initial
    meta = read_metadata(str(result['path']))
    assert meta['format'] == onnx_runtime.FORMAT
    assert meta['input_name'] == 'images'
    assert meta['outputs'] == ['raw_s8', 'raw_s16', 'raw_s32']
    assert meta['input_size'] == [224, 224] and meta['dynamic_axes'] == []
    assert meta['classes'] == list(cfg.classes) and len(meta['classes']) == 6
    assert meta['strides'] == [8, 16, 32]
    assert meta['anchors'] == model.bbox_head.anchors.tolist()
    assert meta['normalization'] == dict(
        mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0], bgr_to_rgb=True,
        pad_value=114 / 255, pad_size_divisor=32)
    assert meta['test_cfg'] == dict(
        score_thr=0.001, nms_pre=30000,
        nms=dict(type='nms', iou_threshold=0.6), max_per_img=300,
        multi_label=True)
    assert meta['resize']['type'] == 'LetterBox'
    assert meta['resize']['scale'] == [192, 192]
    assert meta['resize']['extra_pad_ratio'] == 0.5
    assert meta['checkpoint'] == 'none (initial weights)'
    assert 'N x 3 x H x W float32' in meta['input_contract']


def test_predict_images_letterboxes_like_the_test_pipeline(
        calibrated, batch, image_paths):
    """From image files to detections with nothing but the ONNX file and
    onnx_runtime.py (its letterbox and normalisation)."""
    model, result = calibrated
    inputs, samples = preprocess(model, batch)
    expected = pytorch_predictions(model, inputs, samples, DETECTION_CFG)
    runner = OnnxDetector(str(result['path']), num_threads=2)
    images = [cv2.imread(str(path)) for path in image_paths]
    actual = runner.predict_images(images, test_cfg=DETECTION_CFG)
    for exp, act in zip(expected, actual):
        assert_same_detections(exp, act)


RUN_WITHOUT_TORCH = r'''
import importlib.abc, importlib.util, json, sys
import numpy as np

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'torchvision', 'mmcv', 'mmdet',
                                  'mmengine', 'csdet', 'cv2'):
            raise ImportError(f'{name} is blocked in this test')
        return None

sys.meta_path.insert(0, Block())
module_path, onnx_path, inputs_path, metas_path, out_path = sys.argv[1:]
spec = importlib.util.spec_from_file_location('onnx_runtime', module_path)
runtime = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runtime)
runner = runtime.OnnxDetector(onnx_path, num_threads=1)
with open(metas_path) as f:
    request = json.load(f)
results = runner.predict(np.load(inputs_path), request['metas'],
                         request['test_cfg'])
np.savez(out_path, **{f'{key}_{index}': value
                      for index, result in enumerate(results)
                      for key, value in result.items()})
print(sorted(name for name in sys.modules
             if name.split('.')[0] in ('torch', 'mmcv', 'csdet', 'cv2')))
'''


def test_runs_with_numpy_and_onnxruntime_only(calibrated, batch, tmp_path):
    model, result = calibrated
    inputs, samples = preprocess(model, batch)
    expected = pytorch_predictions(model, inputs, samples, DETECTION_CFG)
    np.save(tmp_path / 'inputs.npy', inputs.numpy())
    metas = [dict(scale_factor=list(s.scale_factor),
                  pad_param=[float(v) for v in s.pad_param],
                  ori_shape=list(s.ori_shape)) for s in samples]
    (tmp_path / 'request.json').write_text(
        json.dumps(dict(metas=metas, test_cfg=DETECTION_CFG)))
    env = dict(os.environ, PYTHONPATH='')
    completed = subprocess.run(
        [sys.executable, '-c', RUN_WITHOUT_TORCH, onnx_runtime.__file__,
         str(result['path']), str(tmp_path / 'inputs.npy'),
         str(tmp_path / 'request.json'), str(tmp_path / 'out.npz')],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == '[]'  # no torch / mmcv / csdet / cv2
    saved = np.load(tmp_path / 'out.npz')
    for index, exp in enumerate(expected):
        assert_same_detections(exp, {
            key: saved[f'{key}_{index}']
            for key in ('bboxes', 'scores', 'labels', 'cls_probs')
        })


def test_bad_sizes_and_unsupported_models(initial, cfg, tmp_path):
    model, _ = initial
    with pytest.raises(ValueError, match='multiple of the largest stride'):
        export_model(model, cfg, str(tmp_path / 'bad.onnx'), img_size=200)
    with pytest.raises(ExportNotSupported,
                       match="cannot export FasterRCNN.*mmcv's NMS"):
        export_onnx(str(REPO / 'configs' / 'faster-rcnn_r50_fpn_neu.py'),
                    None, str(tmp_path / 'frcnn.onnx'))
    assert list(tmp_path.iterdir()) == []
