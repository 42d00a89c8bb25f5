"""Loss-side positives (paper Eq. 16's F) for YOLOv5, SSD and Faster R-CNN."""
import copy

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.runner import Runner

from csdet.models.losses import CostSensitiveLoss
from csdet.testing.synthetic import make_synthetic_coco
from csdet.models.utils.loss_positives import (class_loss_module,
                                               loss_positives,
                                               positives_from_calls,
                                               record_loss_inputs)
from csdet.utils.config import load_resolved
from csdet.utils.runner_setup import init_weights_quietly

CONFIGS = {
    'cs_yolov5_neu_quick': 96,
    'cs_ssd300_neu_quick': 300,
    'faster-rcnn_r50_fpn_neu_quick': 128,
}


def _with_annotations(pipeline: list) -> list:
    """The test pipeline with LoadAnnotations after loading the image, so
    that PackDetInputs packs gt_instances in the network-input frame."""
    pipeline = copy.deepcopy(pipeline)
    pipeline.insert(1, dict(type='LoadAnnotations', with_bbox=True))
    return pipeline


def _first_batch(cfg, pipeline=None):
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    loader_cfg.update(batch_size=2, num_workers=0, persistent_workers=False)
    loader_cfg.dataset.indices = 2
    if pipeline is not None:
        loader_cfg.dataset.pipeline = pipeline
    return next(iter(Runner.build_dataloader(loader_cfg)))


@pytest.fixture(scope='module')
def wide_set(tmp_path_factory):
    """Non-square images, so that YOLOv5's letterbox pads (pad_param)."""
    return make_synthetic_coco(tmp_path_factory.mktemp('wide'), num_images=4,
                               image_size=(96, 72), seed=5,
                               test_fraction=0.5)


@pytest.fixture(scope='module', params=sorted(CONFIGS))
def detector(request, repo_root, wide_set):
    name = request.param
    cfg = load_resolved(
        str(repo_root / 'configs' / f'{name}.py'),
        dict(img_size=CONFIGS[name], data_root=str(wide_set['root']) + '/'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    init_weights_quietly(model)
    if hasattr(model, 'backbone') and hasattr(model.neck, 'l2_norm'):
        model.neck.l2_norm.weight.data.fill_(20.0)
    model.eval()
    return name, cfg, model


def test_positives_equal_those_of_the_training_pipeline_ground_truth(
        detector):
    """GT mapped from the raw instances gives the positives that the
    pipeline-transformed GT gives (same assigner, same sampled RoIs)."""
    name, cfg, model = detector
    batch = _first_batch(cfg)
    torch.manual_seed(1)
    before = torch.random.get_rng_state()
    found = loss_positives(model, batch)
    assert torch.equal(torch.random.get_rng_state(), before)

    annotated = _first_batch(
        cfg, _with_annotations(cfg.test_dataloader.dataset.pipeline))
    loss = class_loss_module(model)
    for index, image_positives in enumerate(found):
        data = model.data_preprocessor(
            dict(inputs=[annotated['inputs'][index]],
                 data_samples=[annotated['data_samples'][index]]), False)
        torch.manual_seed(1)
        with torch.no_grad(), record_loss_inputs(loss) as calls:
            model.loss(data['inputs'], data['data_samples'])
        expected = positives_from_calls(calls, loss.use_sigmoid)
        assert len(image_positives['labels']) > 0, name
        np.testing.assert_array_equal(image_positives['labels'],
                                      expected['labels'])
        np.testing.assert_allclose(image_positives['probs'],
                                   expected['probs'], atol=1e-5)
        gt_labels = set(
            annotated['data_samples'][index].gt_instances.labels.tolist())
        assert set(image_positives['labels'].tolist()) <= gt_labels
        assert image_positives['probs'].shape[1] == 6


def test_class_loss_module_is_the_object_class_loss(detector):
    name, _, model = detector
    loss = class_loss_module(model)
    if name.startswith('faster'):
        assert loss is model.roi_head.bbox_head.loss_cls
    else:
        assert loss is model.bbox_head.loss_cls


def test_recorder_counts_nested_calls_once_and_restores_methods():
    loss = CostSensitiveLoss(use_sigmoid=False, classes=['a', 'b'],
                             positive_classes=['a'])
    score = torch.randn(4, 3)
    label = torch.tensor([0, 2, 1, 2])
    with record_loss_inputs(loss) as calls:
        loss(score, label)  # forward calls loss_parts inside
        loss.loss_parts(score, label)
    assert len(calls) == 2
    assert 'forward' not in vars(loss) and 'loss_parts' not in vars(loss)


def test_positives_from_calls_sigmoid_and_softmax():
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    sig = positives_from_calls([(logits, torch.tensor([1, 0]))], True)
    np.testing.assert_array_equal(sig['labels'], [1, 0])
    np.testing.assert_allclose(sig['probs'], logits.sigmoid().numpy())
    soft_logits = torch.tensor([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    soft = positives_from_calls(
        [(soft_logits, torch.tensor([2, 0]))], False)  # 2 = background
    np.testing.assert_array_equal(soft['labels'], [0])
    np.testing.assert_allclose(soft['probs'],
                               soft_logits.softmax(-1)[1:, :2].numpy())
    soft_targets = torch.tensor([[0.05, 0.95]])
    smoothed = positives_from_calls([(logits[:1], soft_targets)], True)
    np.testing.assert_array_equal(smoothed['labels'], [1])
