"""csdet.utils.cost_gradient: the cost/CE gradient ratio on the class logits
is proportional to eta, 0 without a cost term, and is found on a detector's
class logits (tiny synthetic batches, no real data)."""
import math

import pytest
import torch
from csdet.utils.config import load_resolved
from mmengine.registry import init_default_scope
from mmdet.registry import MODELS
from torch import nn

from csdet.models.losses import CostSensitiveLoss
from csdet.utils.benchmark import synthetic_batch
from csdet.utils.cost_gradient import (class_logit_modules,
                                       class_loss_gradient_norms,
                                       eta_for_ratio, measure_cost_gradient)
from csdet.datasets import NEU_DET_CLASSES

CLASSES = NEU_DET_CLASSES
POSITIVE = ('patches', 'pitted_surface', 'inclusion', 'scratches')


def make_loss(use_sigmoid, eta=1.0, cost_weight=0.75):
    return CostSensitiveLoss(
        use_sigmoid=use_sigmoid, classes=CLASSES, positive_classes=POSITIVE,
        group='a', eta=eta, cost_weight=cost_weight)


def loss_ratio(use_sigmoid, **kwargs):
    generator = torch.Generator().manual_seed(0)
    columns = 6 if use_sigmoid else 7
    logits = torch.randn(32, columns, generator=generator, requires_grad=True)
    # Softmax mode: label 6 is background (no cost term), as in SSD/RCNN.
    labels = torch.randint(0, columns, (32, ), generator=generator)
    parts = make_loss(use_sigmoid, **kwargs).loss_parts(logits, labels)
    return class_loss_gradient_norms(parts, [logits])


@pytest.mark.parametrize('use_sigmoid', [True, False])
def test_ratio_is_proportional_to_eta_and_zero_without_cost(use_sigmoid):
    one = loss_ratio(use_sigmoid, eta=1.0)
    two = loss_ratio(use_sigmoid, eta=2.0)
    assert one.ratio > 0
    assert two.ce == one.ce
    assert two.ratio == pytest.approx(2 * one.ratio, rel=1e-6)
    off = loss_ratio(use_sigmoid, cost_weight=0.0)
    assert off.cost == 0.0 and off.ratio == 0.0 and off.ce == one.ce
    assert eta_for_ratio(one.ratio, 1.0, 2 * one.ratio) == pytest.approx(2.0)


def test_plain_loss_dict_has_zero_cost_and_missing_loss_is_an_error():
    logits = torch.randn(4, 7, requires_grad=True)
    plain = dict(loss_cls=[logits.logsumexp(1).mean()])  # list, as SSD's
    norms = class_loss_gradient_norms(plain, [logits])
    assert norms.ce > 0 and norms.cost == 0.0 and norms.ratio == 0.0
    with pytest.raises(KeyError, match='loss_cls'):
        class_loss_gradient_norms(dict(loss_bbox=logits.sum()), [logits])
    assert math.isnan(eta_for_ratio(0.0, 1.0, 0.28))
    assert math.isnan(eta_for_ratio(0.1, None, 0.28))


def test_finds_the_class_logits_of_two_stage_and_dense_heads():
    fc_cls = nn.Linear(4, 7)
    two_stage = nn.Module()
    two_stage.roi_head = nn.Module()
    two_stage.roi_head.bbox_head = nn.Module()
    two_stage.roi_head.bbox_head.fc_cls = fc_cls
    assert class_logit_modules(two_stage) == [fc_cls]
    dense = nn.Module()
    dense.bbox_head = nn.Module()
    dense.bbox_head.cls_convs = nn.ModuleList([nn.Conv2d(1, 7, 1)] * 2)
    assert len(class_logit_modules(dense)) == 2


def test_detector_ratio_on_a_synthetic_batch(repo_root):
    """CS-YOLOv5n, 2 random 64 px images: the model-level measurement."""
    init_default_scope('mmdet')
    cfg = load_resolved(str(repo_root / 'configs' / 'cs_yolov5n_neu.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    loss = model.bbox_head.loss_cls
    data = synthetic_batch(batch_size=2, img_size=64, num_classes=6)

    def measure(eta, cost_weight):
        loss.eta, loss.cost_weight = eta, cost_weight
        return measure_cost_gradient(model, data)

    one, two = measure(1.0, 0.375), measure(2.0, 0.375)
    assert one.ratio > 0
    assert two.ratio == pytest.approx(2 * one.ratio, rel=1e-5)
    off = measure(1.0, 0.0)
    assert off.cost == 0.0 and off.ratio == 0.0
    assert off.ce == pytest.approx(one.ce, rel=1e-5)
