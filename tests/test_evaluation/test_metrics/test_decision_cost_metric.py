"""DecisionCostMetric (confusion matrix with background, total cost).

The example of metric_samples.py at score_thr 0.25 (every detection kept),
class-agnostic greedy matching:
    image 1: D3 (0.95, c) no gt -> false alarm c;  D0 (0.90, a) -> G0 (a);
             D1 (0.80, a) duplicate -> false alarm a;  D2 (0.60, b) -> G1 (c)
    image 2: gt b missed.   image 3: D (a) -> false alarm a.
Confusion M (rows true a, b, c, background; columns predicted):
    a  [1, 0, 0, 0]
    b  [0, 0, 0, 1]
    c  [0, 1, 0, 0]
    bg [2, 0, 1, 0]
Explicit matrix -> missed = row maxima [4, 2, 8], false alarm = column
maxima [8, 3, 4]. Cost: misclassification C[c, b] = 3; missed b = 2;
false alarms 2*8 + 1*4 = 20; total 25, per image 25/3.
"""
import json

import numpy as np
import pytest
from metric_samples import COST_SPEC, example_samples, make_sample, run_metric

from csdet.datasets import NEU_DET_CLASSES
from csdet.evaluation.metrics import DecisionCostMetric
from csdet.evaluation.metrics.decision_cost_metric import \
    background_as_negative_costs

NEU_CLASSES = NEU_DET_CLASSES
NEU_POSITIVE = ['patches', 'pitted_surface', 'inclusion', 'scratches']


def test_confusion_and_cost_by_hand(tmp_path):
    metric = DecisionCostMetric(**COST_SPEC, output_dir=str(tmp_path))
    metrics = run_metric(metric, example_samples())
    assert metrics['total_cost'] == pytest.approx(25.0)
    assert metrics['cost_per_image'] == pytest.approx(25 / 3)
    assert metrics['misclassification_cost'] == pytest.approx(3.0)
    assert metrics['missed_cost'] == pytest.approx(2.0)
    assert metrics['false_alarm_cost'] == pytest.approx(20.0)
    assert (metrics['num_correct'], metrics['num_misclassified'],
            metrics['num_missed'], metrics['num_false_alarms']) == (1, 1, 1,
                                                                    3)
    expected_confusion = [[1, 0, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0],
                          [2, 0, 1, 0]]
    saved = json.loads((tmp_path / 'decision_confusion.json').read_text())
    assert saved['classes'] == ['a', 'b', 'c', 'background']
    assert saved['counts'] == expected_confusion
    assert saved['cost_weighted'][3][0] == pytest.approx(16.0)
    summary = json.loads((tmp_path / 'decision_metric.json').read_text())
    assert summary['extended_cost_matrix'] == [[0, 1, 4, 4], [2, 0, 1, 2],
                                               [8, 3, 0, 8], [8, 3, 4, 0]]
    assert summary['metrics']['total_cost'] == pytest.approx(25.0)
    png = (tmp_path / 'decision_confusion.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 1000


def test_custom_missed_and_false_alarm_costs():
    # missed b: 5; false alarms a, a, c: 1 + 1 + 3; misclassification 3
    metric = DecisionCostMetric(
        **COST_SPEC, missed_cost=5, false_alarm_cost=[1, 2, 3])
    assert run_metric(metric, example_samples())['total_cost'] == \
        pytest.approx(13.0)


def test_threshold_turns_detections_into_misses():
    # at 0.85 only D3 (false alarm c: 4) and D0 (correct) remain;
    # G1 (c, 8) and image 2's b (2) are missed: 4 + 8 + 2 = 14
    metrics = run_metric(
        DecisionCostMetric(**COST_SPEC, score_thr=0.85), example_samples())
    assert metrics['total_cost'] == pytest.approx(14.0)
    assert metrics['num_missed'] == 2 and metrics['num_false_alarms'] == 1


def test_bayes_relabel_by_hand():
    # Bayes labels: D3 c (FA c: 4), D0 b (C[a, b] = 1), D1 b (FA b: 3),
    # D2 c (correct), image-3 det b (FA b: 3), missed b (2): total 13
    metrics = run_metric(
        DecisionCostMetric(**COST_SPEC, bayes_relabel=True),
        example_samples())
    assert metrics['total_cost'] == pytest.approx(13.0)
    assert metrics['num_correct'] == 1 and metrics['num_misclassified'] == 1
    assert metrics['num_relabelled'] == 4


def test_ignored_ground_truth_is_not_a_false_alarm_nor_a_miss():
    sample = make_sample(
        det_bboxes=[[0, 0, 10, 10]], scores=[0.9], labels=[2],
        ignored_bboxes=[[0, 0, 10, 10]], ignored_labels=[0])
    metrics = run_metric(DecisionCostMetric(**COST_SPEC), [sample])
    assert metrics['total_cost'] == 0.0
    assert metrics['num_false_alarms'] == 0 and metrics['num_missed'] == 0


def test_empty_images():
    metrics = run_metric(DecisionCostMetric(**COST_SPEC),
                         [make_sample(), make_sample()])
    assert metrics['total_cost'] == 0.0 and metrics['cost_per_image'] == 0.0


def test_background_as_negative_class_defaults_on_paper_spec():
    metric = DecisionCostMetric(positive_classes=NEU_POSITIVE, group='a')
    metric.dataset_meta = dict(classes=NEU_CLASSES)
    extended = metric.extended_cost_matrix()
    # normalised by lambda_NP = 200: PN = 0.1, NN = 0.01, NP = 1
    positive = np.array([name in NEU_POSITIVE for name in NEU_CLASSES])
    np.testing.assert_allclose(extended[:6, 6], np.where(positive, 0.1,
                                                         0.01))
    np.testing.assert_allclose(extended[6, :6], np.where(positive, 1.0,
                                                         0.01))
    np.testing.assert_allclose(extended[:6, :6], metric.cost_matrix)
    # 'sum' normalisation: the raw matrix sums to 8*200 + 8*20 + 2*2 +
    # 12*1 = 1776, so a missed patches costs 20 / 1776
    summed = DecisionCostMetric(
        positive_classes=NEU_POSITIVE, group='a', normalize='sum')
    summed.dataset_meta = dict(classes=NEU_CLASSES)
    missed, false_alarm = background_as_negative_costs(
        NEU_CLASSES, summed.cost_spec, summed.cost_matrix)
    assert missed[2] == pytest.approx(20 / 1776)
    assert false_alarm[2] == pytest.approx(200 / 1776)
    assert missed[0] == pytest.approx(2 / 1776)


def test_works_without_cls_probs_unless_relabelling():
    metrics = run_metric(
        DecisionCostMetric(**COST_SPEC), example_samples(with_probs=False))
    assert metrics['total_cost'] == pytest.approx(25.0)


def test_out_of_range_label_is_refused():
    sample = make_sample(
        det_bboxes=[[0, 0, 10, 10]], scores=[0.9], labels=[3])
    with pytest.raises(ValueError, match='labels of image 0'):
        run_metric(DecisionCostMetric(**COST_SPEC), [sample])
