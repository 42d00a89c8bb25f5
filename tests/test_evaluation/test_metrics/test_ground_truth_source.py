"""Where the metrics take ground truth from, and in which frame.

Predictions are in original-image coordinates (mmdet rescales them). The
image here was resized 2x: ori_shape 100x100, img_shape 200x200,
scale_factor (2, 2). The object is [20, 20, 60, 60] in the original image,
[40, 40, 120, 120] in the resized one; the detection is [20, 20, 60, 60].
"""
import pytest
import torch
from metric_samples import COST_SPEC, make_sample, run_metric

from csdet.evaluation.metrics import CostMetric, DecisionCostMetric


def resized_sample(with_instances: bool) -> dict:
    sample = make_sample(
        det_bboxes=[[20, 20, 60, 60]], scores=[0.9], labels=[2],
        cls_probs=[[0.5, 0.0, 0.5]], gt_bboxes=[[40, 40, 120, 120]],
        gt_labels=[2])
    sample.update(ori_shape=(100, 100), img_shape=(200, 200),
                  scale_factor=(2.0, 2.0))
    if with_instances:
        sample['instances'] = [
            dict(bbox=[20, 20, 60, 60], bbox_label=2, ignore_flag=0),
            dict(bbox=[70, 70, 90, 90], bbox_label=0, ignore_flag=1),
        ]
    return sample


def test_auto_prefers_raw_instances_in_original_frame():
    # P.C[c] = 0.5 * 8 = 4; the ignored box is not counted as a gt
    metrics = run_metric(CostMetric(**COST_SPEC), [resized_sample(True)])
    assert metrics['F'] == 1 and metrics['num_gts'] == 1
    assert metrics['cost'] == pytest.approx(4.0)


def test_resized_gt_instances_are_rescaled_with_scale_factor():
    metric = CostMetric(**COST_SPEC, gt_coords='resized')
    metrics = run_metric(metric, [resized_sample(False)])
    assert metrics['F'] == 1 and metrics['cost'] == pytest.approx(4.0)
    assert metric.results[0]['gt_bboxes'].tolist() == [[20, 20, 60, 60]]


def test_resized_gt_instances_taken_as_original_are_caught():
    with pytest.raises(ValueError, match="gt_coords='resized'"):
        run_metric(CostMetric(**COST_SPEC), [resized_sample(False)])


def test_gt_source_forced_to_gt_instances_ignores_raw_instances():
    sample = resized_sample(True)
    metric = DecisionCostMetric(
        **COST_SPEC, gt_source='gt_instances', gt_coords='resized')
    metrics = run_metric(metric, [sample])
    assert metrics['num_correct'] == 1 and metrics['total_cost'] == 0.0


def test_horizontal_boxes_are_accepted():
    from mmdet.structures.bbox import HorizontalBoxes
    sample = resized_sample(False)
    sample['gt_instances']['bboxes'] = HorizontalBoxes(
        torch.tensor([[40., 40., 120., 120.]]))
    metrics = run_metric(
        CostMetric(**COST_SPEC, gt_coords='resized'), [sample])
    assert metrics['F'] == 1


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='gt_source'):
        CostMetric(gt_source='annotations')
    with pytest.raises(ValueError, match='gt_coords'):
        CostMetric(gt_coords='scaled')
    with pytest.raises(ValueError, match='iou_thr'):
        CostMetric(iou_thr=1.5)


def test_letterbox_padding_is_removed_before_rescaling():
    # letterbox: resized 2x, then padded 10 px on top and 6 px on the left
    # (pad_param = [top, bottom, left, right]): [20,20,60,60] in the
    # original image is [46, 50, 126, 130] in the network input
    sample = resized_sample(False)
    sample['gt_instances']['bboxes'] = torch.tensor([[46., 50., 126., 130.]])
    sample['pad_param'] = [10, 10, 6, 6]
    metric = CostMetric(**COST_SPEC, gt_coords='resized')
    metrics = run_metric(metric, [sample])
    assert metric.results[0]['gt_bboxes'].tolist() == [[20, 20, 60, 60]]
    assert metrics['F'] == 1
