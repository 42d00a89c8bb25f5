"""The metrics inside a real mmengine Evaluator, next to mmdet's CocoMetric.

Two images, samples built as the model's val_step returns them
(DetDataSample with InstanceData, gt boxes as HorizontalBoxes in the resized
frame, raw 'instances' in the metainfo for CocoMetric):

image 1 (ori 100x100, resized 2x): gt class c at [20, 20, 60, 60];
    detection [20, 20, 60, 60], score 0.9, label b, probs [0.1, 0.5, 0.4]
    (Bayes label c: R = [4.2, 1.3, 0.9]).
image 2: gt class a at [0, 0, 30, 30]; detection [0, 0, 30, 30], score
    0.8, label a, probs [0.8, 0.1, 0.1] (R = [1.0, 1.1, 3.4] -> stays a).

Plain labels: class c has a gt but no class-c detection (AP 0), class a is
perfect (AP 1), class b has no gt (left out by COCO): bbox_mAP_50 = 0.5.
Bayes labels: both perfect: 1.0.
Cost (Eq. 16): image 1 P.C[c] = 0.1*8 + 0.5*3 = 2.3; image 2 P.C[a] =
0.1*1 + 0.1*4 = 0.5; mean 1.4.
"""
import json

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from metric_samples import CLASSES, COST_SPEC

from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes

import csdet  # noqa: F401  (registers the csdet metrics)


@pytest.fixture(autouse=True)
def mmdet_scope():
    # as a runner with default_scope='mmdet' does, so that the Evaluator
    # finds mmdet's and csdet's metrics by name
    init_default_scope('mmdet')


def det_data_sample(img_id, gt_box, gt_label, det_box, score, label, probs):
    sample = DetDataSample(
        metainfo=dict(
            img_id=img_id,
            ori_shape=(100, 100),
            img_shape=(200, 200),
            scale_factor=(2.0, 2.0),
            instances=[
                dict(bbox=gt_box, bbox_label=gt_label, ignore_flag=0)
            ]))
    sample.gt_instances = InstanceData(
        bboxes=HorizontalBoxes(torch.tensor([gt_box], dtype=torch.float32) *
                               2),
        labels=torch.tensor([gt_label]))
    sample.ignored_instances = InstanceData(
        bboxes=HorizontalBoxes(torch.zeros(0, 4)),
        labels=torch.zeros(0, dtype=torch.long))
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([det_box], dtype=torch.float32),
        scores=torch.tensor([score]),
        labels=torch.tensor([label]),
        cls_probs=torch.tensor([probs]))
    return sample


def batch():
    return [
        det_data_sample(1, [20, 20, 60, 60], 2, [20, 20, 60, 60], 0.9, 1,
                        [0.1, 0.5, 0.4]),
        det_data_sample(2, [0, 0, 30, 30], 0, [0, 0, 30, 30], 0.8, 0,
                        [0.8, 0.1, 0.1]),
    ]


def test_all_metrics_in_one_evaluator(tmp_path):
    evaluator = Evaluator([
        # the wrapper first: it must not change what the others see
        dict(type='BayesRelabelMetric',
             metric=dict(type='CocoMetric', metric='bbox'), **COST_SPEC),
        dict(type='CocoMetric', metric='bbox'),
        dict(type='CostMetric', output_dir=str(tmp_path), **COST_SPEC),
        dict(type='F1Metric', output_dir=str(tmp_path)),
        dict(type='BayesRelabelMetric', metric=dict(type='F1Metric'),
             **COST_SPEC),
        dict(type='DecisionCostMetric', output_dir=str(tmp_path),
             **COST_SPEC),
    ])
    evaluator.dataset_meta = dict(classes=CLASSES)
    samples = batch()
    evaluator.process(data_samples=samples[:1], data_batch={})
    evaluator.process(data_samples=samples[1:], data_batch={})
    metrics = evaluator.evaluate(2)

    assert metrics['coco/bbox_mAP_50'] == pytest.approx(0.5)
    assert metrics['bayes_coco/bbox_mAP_50'] == pytest.approx(1.0)
    assert metrics['cost_det/cost'] == pytest.approx(1.4)
    assert metrics['cost_det/cost_x1e3'] == pytest.approx(1400.0)
    assert metrics['cost_det/F'] == 2
    # plain: class a F1 1, class c F1 0 -> 0.5; Bayes labels: 1.0
    assert metrics['f1/f1'] == pytest.approx(0.5)
    assert metrics['bayes_f1/f1'] == pytest.approx(1.0)
    # plain decisions: one c-as-b confusion, C[c, b] = 3
    assert metrics['decision/total_cost'] == pytest.approx(3.0)
    assert metrics['decision/cost_per_image'] == pytest.approx(1.5)
    for name in ('cost_metric.json', 'f1_metric.json',
                 'decision_metric.json', 'decision_confusion.json',
                 'decision_confusion.png'):
        assert (tmp_path / name).is_file(), name
    # the caller's data samples are untouched by the relabelling
    assert samples[0].pred_instances.labels.tolist() == [1]


def test_output_goes_next_to_the_run_log_by_default(tmp_path):
    log_dir = tmp_path / 'work_dir' / '20250101_000000'
    log_dir.mkdir(parents=True)
    MMLogger.get_instance(
        'csdet_metric_output_test',
        log_file=str(log_dir / '20250101_000000.log'))
    evaluator = Evaluator([dict(type='CostMetric', **COST_SPEC)])
    evaluator.dataset_meta = dict(classes=CLASSES)
    evaluator.process(data_samples=batch(), data_batch={})
    metrics = evaluator.evaluate(2)
    saved = json.loads((log_dir / 'cost_metric.json').read_text())
    assert saved['metrics']['cost'] == pytest.approx(metrics['cost_det/cost'])


def test_wrapper_needs_cls_probs():
    evaluator = Evaluator([
        dict(type='BayesRelabelMetric', metric=dict(type='F1Metric'),
             **COST_SPEC)
    ])
    evaluator.dataset_meta = dict(classes=CLASSES)
    sample = batch()[0]
    del sample.pred_instances.cls_probs
    with pytest.raises(KeyError, match='cls_probs'):
        evaluator.process(data_samples=[sample], data_batch={})
