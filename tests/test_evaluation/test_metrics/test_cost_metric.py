"""CostMetric (paper Eq. 16) on the hand-made samples of metric_samples.py.

Class-agnostic greedy matching of the example (score_thr = 0):
    image 1: D3 (0.95) overlaps nothing; D0 (0.90) -> G0 (class a);
             D1 (0.80) duplicate of G0 -> unmatched; D2 (0.60) -> G1 (c).
    image 2: G (class b) missed.   image 3: D unmatched (no gt).
Positive samples (F = 2):
    D0, t = a: P.C[a] = 0.7*0 + 0.2*1 + 0.1*4 = 0.6
    D2, t = c: P.C[c] = 0.1*8 + 0.5*3 + 0.4*0 = 2.3
Cost = (0.6 + 2.3) / 2 = 1.45.
Hard labels: D0 a (C[a, a] = 0), D2 b (C[c, b] = 3) -> label_cost 1.5;
Bayes labels: D0 b (C[a, b] = 1), D2 c (0) -> label_cost 0.5.
"""
import json
import math

import numpy as np
import pytest
from metric_samples import COST_SPEC, example_samples, make_sample, run_metric

from csdet.evaluation.metrics import CostMetric


def test_eq16_by_hand(tmp_path):
    metric = CostMetric(**COST_SPEC, output_dir=str(tmp_path))
    metrics = run_metric(metric, example_samples())
    assert metrics['cost'] == pytest.approx(1.45)
    assert metrics['cost_x1e3'] == pytest.approx(1450.0)
    assert metrics['F'] == 2
    assert metrics['num_gts'] == 3
    assert metrics['num_missed'] == 1
    assert metrics['label_cost'] == pytest.approx(1.5)
    assert metrics['cost_a'] == pytest.approx(0.6)
    assert math.isnan(metrics['cost_b'])  # its only gt was missed
    assert metrics['cost_c'] == pytest.approx(2.3)
    assert 'num_relabelled' not in metrics

    saved = json.loads((tmp_path / 'cost_metric.json').read_text())
    assert saved['metrics']['cost'] == pytest.approx(1.45)
    assert saved['metrics']['cost_b'] is None  # NaN is written as null
    assert saved['per_class_F'] == {'a': 1, 'b': 0, 'c': 1}
    assert saved['cost_matrix'] == COST_SPEC['cost_matrix']
    assert saved['num_images'] == 3


def test_bayes_relabel_changes_label_cost_not_eq16():
    metric = CostMetric(**COST_SPEC, bayes_relabel=True)
    metrics = run_metric(metric, example_samples())
    assert metrics['cost'] == pytest.approx(1.45)
    assert metrics['label_cost'] == pytest.approx(0.5)
    # D0 a->b, D1 a->b, D2 b->c, image-3 det a->b; D3 stays c
    assert metrics['num_relabelled'] == 4


def test_score_threshold_restricts_the_positives():
    # at 0.7 D2 (0.6) is gone: F = 1 (D0), G1 and image 2's gt are missed
    metrics = run_metric(
        CostMetric(**COST_SPEC, score_thr=0.7), example_samples())
    assert metrics['F'] == 1
    assert metrics['cost'] == pytest.approx(0.6)
    assert metrics['num_missed'] == 2


def test_misclassified_detection_is_counted_class_agnostically():
    # one gt of class c detected as class a with a confident vector:
    # P.C[c] = 0.9*8 + 0.05*3 = 7.35
    sample = make_sample(
        det_bboxes=[[0, 0, 10, 10]], scores=[0.9], labels=[0],
        cls_probs=[[0.9, 0.05, 0.05]], gt_bboxes=[[0, 0, 10, 10]],
        gt_labels=[2])
    metrics = run_metric(CostMetric(**COST_SPEC), [sample])
    assert metrics['F'] == 1
    assert metrics['cost'] == pytest.approx(7.35)
    assert metrics['label_cost'] == pytest.approx(8.0)


def test_paper_class_spec_uses_dataset_classes():
    classes = ('crazing', 'inclusion', 'patches', 'pitted_surface',
               'rolled-in_scale', 'scratches')
    # true patches, probability 0.2 on rolled-in_scale (PN: 20/200 = 0.1)
    # and 0.1 on inclusion (PP: 1/200): 0.02 + 0.0005 = 0.0205
    sample = make_sample(
        det_bboxes=[[0, 0, 10, 10]], scores=[0.8], labels=[2],
        cls_probs=[[0.0, 0.1, 0.8, 0.0, 0.2, 0.0]],
        gt_bboxes=[[0, 0, 10, 10]], gt_labels=[2])
    metric = CostMetric(
        positive_classes=['patches', 'pitted_surface', 'inclusion',
                          'scratches'], group='a')
    metrics = run_metric(metric, [sample], classes=classes)
    assert metrics['cost'] == pytest.approx(0.0205)
    assert metrics['cost_x1e3'] == pytest.approx(20.5)


def test_classes_argument_in_another_order_is_reindexed():
    # the explicit matrix is given in order (c, a, b); dataset order is
    # (a, b, c). C[c, b] in the user's order is row 0, column 2.
    user_order_costs = [[0, 8, 3], [4, 0, 1], [1, 2, 0]]
    sample = make_sample(
        det_bboxes=[[0, 0, 10, 10]], scores=[0.9], labels=[1],
        cls_probs=[[0.0, 1.0, 0.0]], gt_bboxes=[[0, 0, 10, 10]],
        gt_labels=[2])
    metric = CostMetric(cost_matrix=user_order_costs, classes=['c', 'a', 'b'],
                        normalize='none')
    assert run_metric(metric, [sample])['cost'] == pytest.approx(3.0)
    np.testing.assert_array_equal(metric.cost_matrix,
                                  [[0, 1, 4], [2, 0, 1], [8, 3, 0]])
    with pytest.raises(ValueError, match='do not match the dataset classes'):
        run_metric(
            CostMetric(cost_matrix=user_order_costs, classes=['x', 'a', 'b']),
            [sample])


def test_no_detections_and_no_gts_give_nan_not_a_crash():
    metrics = run_metric(
        CostMetric(**COST_SPEC),
        [make_sample(cls_probs=np.zeros((0, 3))),
         make_sample(cls_probs=np.zeros((0, 3)), gt_bboxes=[[0, 0, 5, 5]],
                     gt_labels=[1])])
    assert metrics['F'] == 0 and metrics['num_missed'] == 1
    assert math.isnan(metrics['cost']) and math.isnan(metrics['label_cost'])


def test_missing_cls_probs_is_a_clear_error():
    metric = CostMetric(**COST_SPEC)
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    with pytest.raises(KeyError, match='cls_probs.*CostMetric'):
        metric.process({}, example_samples(with_probs=False)[:1])


def test_wrong_number_of_probability_columns_is_refused():
    sample = make_sample(
        det_bboxes=[[0, 0, 10, 10]], scores=[0.9], labels=[0],
        cls_probs=[[0.1, 0.1, 0.1, 0.7]], gt_bboxes=[[0, 0, 10, 10]],
        gt_labels=[0])
    with pytest.raises(ValueError, match='no background column'):
        run_metric(CostMetric(**COST_SPEC), [sample])
