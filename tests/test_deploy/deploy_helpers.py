"""Shared helpers of the ONNX export tests (imported by the test files, not
a test): test images, the config's test pipeline, PyTorch reference
outputs and a tolerant comparison of detections."""
from pathlib import Path
from typing import List

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

from csdet.deploy.onnx_export import RawOutputs
from csdet.testing.synthetic import render_synthetic_image

REPO = Path(__file__).resolve().parents[2]


def sample_image_paths(request, folder: Path, count: int,
                     step: int) -> List[Path]:
    """``count`` NEU-DET images (every ``step``-th of the sorted 1,800),
    or ``count`` synthetic 200 x 200 images written to ``folder`` when
    NEU-DET is absent."""
    try:
        root = request.getfixturevalue('neu_det_root')
        return sorted((root / 'IMAGES').glob('*.jpg'))[::step][:count]
    except pytest.skip.Exception:
        paths = []
        for index in range(count):
            path = folder / f'synthetic_{index:02d}.png'
            cv2.imwrite(str(path),
                        render_synthetic_image(0, index, 200).image)
            paths.append(path)
        return paths


def collate(cfg, paths) -> dict:
    """The config's test pipeline (without ground truth) on ``paths``,
    collated as model input."""
    init_default_scope('mmdet')
    steps = [step for step in cfg.test_dataloader.dataset.pipeline
             if step['type'] != 'LoadAnnotations']
    pipeline = Compose(steps)
    return pseudo_collate([
        pipeline(dict(img_path=str(path), img_id=index))
        for index, path in enumerate(paths)
    ])


def preprocess(model, batch):
    """(inputs N x 3 x H x W, data samples) from the data preprocessor."""
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
    return data['inputs'], data['data_samples']


def raw_outputs(model, inputs) -> List[np.ndarray]:
    """The exported graph's outputs, computed by PyTorch."""
    with torch.no_grad():
        return [out.numpy() for out in RawOutputs(model)(inputs)]


def pytorch_predictions(model, inputs, samples, test_cfg):
    """``pred_instances`` of ``model.predict`` under ``test_cfg``."""
    saved = model.bbox_head.test_cfg
    model.bbox_head.test_cfg = ConfigDict(test_cfg)
    try:
        with torch.no_grad():
            return [sample.pred_instances for sample in
                    model.predict(inputs, samples, rescale=True)]
    finally:
        model.bbox_head.test_cfg = saved


def assert_same_detections(expected, actual, box_atol=0.05, atol=1e-4,
                           max_per_img=None):
    """PyTorch pred_instances vs the NumPy post-processing's dict: the same
    detections (label, score, box, cls_probs within tolerance), one to one.
    Float32 sigmoids/softmaxes differ by an ulp between the two, which may
    swap detections whose scores tie to an ulp, so the order is not
    compared; when ``max_per_img`` cut the list, detections tied with the
    last kept score (within ``atol``) may be in one list and not the
    other."""
    exp = dict(labels=expected.labels.numpy(), scores=expected.scores.numpy(),
               bboxes=expected.bboxes.numpy(),
               cls_probs=expected.cls_probs.numpy())
    assert np.all(np.diff(actual['scores']) <= 0)  # descending scores
    floor = -np.inf
    if max_per_img is not None and len(exp['scores']) == max_per_img:
        floor = exp['scores'][-1] + atol
    else:
        assert len(actual['scores']) == len(exp['scores'])
    free = np.ones(len(actual['scores']), dtype=bool)
    for index in range(len(exp['scores'])):
        if exp['scores'][index] < floor:
            continue
        close = (free & (actual['labels'] == exp['labels'][index]) &
                 (np.abs(actual['scores'] - exp['scores'][index]) <= atol) &
                 (np.abs(actual['bboxes'] - exp['bboxes'][index]).max(1) <=
                  box_atol) &
                 (np.abs(actual['cls_probs'] - exp['cls_probs'][index]).max(
                     1) <= atol))
        assert close.any(), f'no counterpart for detection {index}'
        free[np.flatnonzero(close)[0]] = False
    assert (actual['scores'][free] < floor).all()
