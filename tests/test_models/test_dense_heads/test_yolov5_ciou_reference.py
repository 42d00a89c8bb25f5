"""bbox_ciou_yolov5 against Ultralytics v7.0's own ``bbox_iou(..., CIoU=True)``
(yolov5==7.0.14, the ``yolov5_reference`` fixture), value and gradient, and
why torchvision's ``complete_box_iou_loss`` does not replace it."""
import importlib

import pytest
import torch
from torchvision.ops import box_convert, complete_box_iou_loss

from csdet.models.dense_heads.yolov5_head import bbox_ciou_yolov5


def head_frame_pairs(count: int, seed: int):
    """(pred, target) xywh in grid units as the head's loss sees them:
    centres relative to the cell in [-0.5, 1.5], predictions near the
    target's size."""
    generator = torch.Generator().manual_seed(seed)
    target = torch.cat([
        torch.rand(count, 2, generator=generator) * 2 - 0.5,
        torch.rand(count, 2, generator=generator) * 10 + 0.1
    ], 1)
    pred = torch.cat([
        torch.rand(count, 2, generator=generator) * 2 - 0.5,
        target[:, 2:] * torch.exp(
            torch.randn(count, 2, generator=generator) * 0.5)
    ], 1)
    return pred, target


# (pred, target) xywh; name -> pair
DEGENERATE = dict(
    tiny=([[0.5, 0.5, 1e-4, 2e-4], [100.0, 100.0, 1e-3, 1e-3]],
          [[0.5, 0.5, 2e-4, 1e-4], [100.0, 100.0, 1e-3, 2e-3]]),
    non_overlapping=([[0.0, 0.0, 1.0, 1.0], [10.0, 10.0, 2.0, 3.0],
                      [0.0, 0.0, 1.0, 4.0]],
                     [[5.0, 5.0, 1.0, 2.0], [-10.0, 3.0, 1.0, 1.0],
                      [3.0, 0.0, 4.0, 1.0]]),
    touching=([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]],
              [[2.0, 0.0, 2.0, 4.0], [2.0, 2.0, 2.0, 2.0]]),
    zero_width=([[0.0, 0.0, 0.0, 2.0]], [[0.5, 0.0, 1.0, 1.0]]),
    large_centre=([[600.0, 600.0, 0.3, 0.2]], [[600.05, 600.02, 0.25, 0.3]]),
)


def value_and_grad(fn, pred: torch.Tensor, target: torch.Tensor):
    pred = pred.clone().requires_grad_(True)
    value = fn(pred, target)
    value.sum().backward()
    return value.detach(), pred.grad


@pytest.fixture(scope='module')
def reference_ciou(yolov5_reference):
    metrics = importlib.import_module('yolov5.utils.metrics')
    return lambda pred, target: metrics.bbox_iou(
        pred, target, CIoU=True).squeeze(-1)


def torchvision_ciou(pred: torch.Tensor, target: torch.Tensor):
    return 1 - complete_box_iou_loss(box_convert(pred, 'cxcywh', 'xyxy'),
                                     box_convert(target, 'cxcywh', 'xyxy'))


def assert_matches(got, expected):
    torch.testing.assert_close(got[0], expected[0], rtol=0, atol=1e-7,
                               equal_nan=True)
    torch.testing.assert_close(got[1], expected[1], rtol=1e-6, atol=1e-6,
                               equal_nan=True)


@pytest.mark.parametrize('seed', [0, 1])
def test_matches_reference_on_head_frame_boxes(reference_ciou, seed):
    pred, target = head_frame_pairs(20000, seed)
    assert_matches(value_and_grad(bbox_ciou_yolov5, pred, target),
                   value_and_grad(reference_ciou, pred, target))


@pytest.mark.parametrize('name', sorted(DEGENERATE))
def test_matches_reference_on_degenerate_boxes(reference_ciou, name):
    pred, target = (torch.tensor(rows) for rows in DEGENERATE[name])
    assert_matches(value_and_grad(bbox_ciou_yolov5, pred, target),
                   value_and_grad(reference_ciou, pred, target))


def test_identical_boxes_keep_the_reference_nan(reference_ciou):
    # alpha = v / (v - IoU + 1 + eps) is 0 / 0 when the float32 IoU rounds
    # to 1 + eps: the reference gives NaN there, and so does csdet.
    _, target = head_frame_pairs(1000, 0)
    got = value_and_grad(bbox_ciou_yolov5, target, target)
    expected = value_and_grad(reference_ciou, target, target)
    assert torch.isnan(expected[0]).any()
    assert torch.equal(torch.isnan(got[0]), torch.isnan(expected[0]))
    assert_matches(got, expected)


def test_torchvision_ciou_is_not_the_reference(reference_ciou):
    # torchvision takes xyxy only; widths recomputed as x2 - x1 round, which
    # moves gradients of head-frame boxes past 1e-6 and values of tiny boxes
    # far from the origin by ~1e-2. It also returns finite values where the
    # reference has NaN (identical boxes).
    pred, target = head_frame_pairs(20000, 0)
    got = value_and_grad(torchvision_ciou, pred, target)
    expected = value_and_grad(reference_ciou, pred, target)
    assert (got[0] - expected[0]).abs().max() < 1e-6
    assert (got[1] - expected[1]).abs().max() > 1e-6

    pred, target = (torch.tensor(rows) for rows in DEGENERATE['tiny'])
    got = value_and_grad(torchvision_ciou, pred, target)
    expected = value_and_grad(reference_ciou, pred, target)
    assert (got[0] - expected[0]).abs().max() > 1e-3

    _, target = head_frame_pairs(1000, 0)
    assert torch.isnan(reference_ciou(target, target)).any()
    assert not torch.isnan(torchvision_ciou(target, target)).any()
