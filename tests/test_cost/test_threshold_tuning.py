"""Per-class threshold tuning and realised decision cost
(csdet.cost.threshold_tuning) against DecisionCostMetric.

Hand case, classes a, b; object costs C = [[0, 1], [1, 0]], a missed a
costs 10, a missed b 1, a false alarm a 1, a false alarm b 10:

    image 1: gt a at G, detection a (0.10) on G
    image 2: no gt, detection b (0.30)            -> false alarm b
    image 3: gt b at G, detection b (0.90) on G   -> correct

At 0.25 for both: a missed (10) + false alarm b (10) = 20. Tuned over the
candidates [0.05, 0.1, 0.2, 0.4, 0.6, 0.95]: a -> 0.05 (the detection is
kept: 0), b -> 0.4 (the false alarm goes, the 0.90 stays): cost 0.
"""
import numpy as np
import pytest

from csdet.cost import (build_decision_rule, realised_cost,
                        rule_decision_metrics, tune_class_thresholds)
from csdet.evaluation.metrics import DecisionCostMetric

CLASSES = ('a', 'b')
COSTS = [[0., 1.], [1., 0.]]
E = np.array([[0., 1., 10.], [1., 0., 1.], [1., 10., 0.]])
BOX = [10., 10., 50., 50.]
CANDIDATES = [0.05, 0.1, 0.2, 0.4, 0.6, 0.95]


def record(scores=(), labels=(), bboxes=(), gt_labels=(), gt_bboxes=(),
           cls_probs=None, img_id=0):
    num_classes = len(CLASSES)
    return dict(
        img_id=img_id,
        scores=np.asarray(scores, dtype=np.float32),
        labels=np.asarray(labels, dtype=np.int64),
        bboxes=np.asarray(bboxes, dtype=np.float64).reshape(-1, 4),
        cls_probs=(np.full((len(scores), num_classes), 0.5)
                   if cls_probs is None else np.asarray(cls_probs)),
        gt_bboxes=np.asarray(gt_bboxes, dtype=np.float64).reshape(-1, 4),
        gt_labels=np.asarray(gt_labels, dtype=np.int64),
        ignored_bboxes=np.zeros((0, 4)),
        ignored_labels=np.zeros(0, dtype=np.int64))


def hand_records():
    return [
        record([0.1], [0], [BOX], [0], [BOX], img_id=1),
        record([0.3], [1], [BOX], img_id=2),
        record([0.9], [1], [BOX], [1], [BOX], img_id=3),
    ]


def metric_total(records, score_thr, classes=CLASSES, costs=COSTS,
                 **kwargs):
    metric = DecisionCostMetric(
        score_thr=score_thr, cost_matrix=costs, normalize='none',
        classes=list(classes), save_plot=False, **kwargs)
    metric.dataset_meta = dict(classes=list(classes))
    return metric, metric.compute_metrics(records)


def test_hand_case_decision_cost():
    metric, metrics = metric_total(hand_records(), 0.25,
                                   missed_cost=[10, 1],
                                   false_alarm_cost=[1, 10])
    np.testing.assert_array_equal(metric.extended_cost_matrix(), E)
    assert metrics['total_cost'] == 20.0
    result = tune_class_thresholds(hand_records(), CLASSES, E,
                                   candidates=CANDIDATES)
    assert result['thresholds'] == {'a': 0.05, 'b': 0.4}
    assert result['decision_cost'] == {'start': 20.0, 'tuned': 0.0}
    assert result['objective'] == 'decision_cost'
    assert result['start_threshold'] == 0.25 and result['num_images'] == 3
    # at the start: F1_a = 0 (no kept detection), F1_b = 2/3; tuned: 1, 1
    assert result['macro_f1']['start'] == pytest.approx(1 / 3)
    assert result['macro_f1']['tuned'] == 1.0


def test_hand_case_f1():
    result = tune_class_thresholds(hand_records(), CLASSES, E,
                                   objective='f1', candidates=CANDIDATES)
    assert result['thresholds'] == {'a': 0.05, 'b': 0.4}
    assert result['macro_f1'] == {'start': pytest.approx(1 / 3),
                                  'tuned': 1.0}


def test_tuned_thresholds_apply_through_the_rule():
    result = tune_class_thresholds(hand_records(), CLASSES, E,
                                   candidates=CANDIDATES)
    rule = build_decision_rule(result, E, classes=CLASSES)
    assert rule_decision_metrics(hand_records(), rule)['total_cost'] == 0.0


def random_records(seed, num_images=40, num_classes=3):
    """Detections around the ground truth (hits, shifted duplicates,
    misclassified and stray boxes) with random scores."""
    rng = np.random.default_rng(seed)
    records = []
    for index in range(num_images):
        num_gts = rng.integers(0, 4)
        corners = rng.uniform(0, 150, (num_gts, 2))
        gt_boxes = np.hstack([corners, corners + rng.uniform(10, 50,
                                                             (num_gts, 2))])
        gt_labels = rng.integers(0, num_classes, num_gts)
        boxes, labels = [], []
        for box, label in zip(gt_boxes, gt_labels):
            for _ in range(rng.integers(0, 3)):
                boxes.append(box + rng.normal(0, 3, 4))
                labels.append(label if rng.random() < 0.7 else
                              rng.integers(0, num_classes))
        for _ in range(rng.integers(0, 3)):
            corner = rng.uniform(0, 150, 2)
            boxes.append(np.hstack([corner, corner + rng.uniform(10, 50,
                                                                 2)]))
            labels.append(rng.integers(0, num_classes))
        scores = rng.uniform(0, 1, len(boxes)).astype(np.float32)
        scores[rng.random(len(scores)) < 0.1] = np.float32(0.25)
        probs = rng.dirichlet(np.ones(num_classes), len(boxes))
        records.append(dict(
            img_id=index, scores=scores,
            labels=np.asarray(labels, dtype=np.int64),
            bboxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
            cls_probs=probs, gt_bboxes=gt_boxes.reshape(-1, 4),
            gt_labels=gt_labels.astype(np.int64),
            ignored_bboxes=np.zeros((0, 4)),
            ignored_labels=np.zeros(0, dtype=np.int64)))
    return records


THREE = ('x', 'y', 'z')
THREE_COSTS = [[0., 1., 4.], [2., 0., 1.], [8., 3., 0.]]


@pytest.mark.parametrize('score_thr', [0.0, 0.25, 0.5, 0.9])
def test_realised_cost_is_exactly_the_metric_total(score_thr):
    records = random_records(0)
    metric, metrics = metric_total(records, score_thr, THREE, THREE_COSTS)
    extended = metric.extended_cost_matrix()
    assert realised_cost(records, [score_thr] * 3, extended) == \
        metrics['total_cost']
    rule = build_decision_rule('argmax', extended, score_thr=score_thr)
    assert rule_decision_metrics(records, rule) == metrics


@pytest.mark.parametrize('seed', [1, 2, 3])
@pytest.mark.parametrize('objective', ['decision_cost', 'f1'])
def test_tuning_never_raises_the_cost_or_lowers_f1(seed, objective):
    records = random_records(seed)
    metric, at_default = metric_total(records, 0.25, THREE, THREE_COSTS)
    extended = metric.extended_cost_matrix()
    result = tune_class_thresholds(records, THREE, extended,
                                   objective=objective)
    assert result['decision_cost']['start'] == at_default['total_cost']
    tuned = [result['thresholds'][name] for name in THREE]
    assert realised_cost(records, tuned, extended) == \
        result['decision_cost']['tuned']
    if objective == 'decision_cost':
        assert result['decision_cost']['tuned'] <= at_default['total_cost']
    else:
        assert result['macro_f1']['tuned'] >= result['macro_f1']['start']


def test_tuning_finds_a_cheaper_operating_point_on_random_records():
    records = random_records(4)
    metric, _ = metric_total(records, 0.25, THREE, THREE_COSTS)
    result = tune_class_thresholds(records, THREE,
                                   metric.extended_cost_matrix())
    assert result['decision_cost']['tuned'] < result['decision_cost'][
        'start']
    assert set(result['thresholds'].values()) != {0.25}


@pytest.mark.parametrize('kwargs,match', [
    (dict(objective='map'), 'objective'),
    (dict(candidates=[0.2, 1.5]), 'candidates'),
    (dict(candidates=[]), 'candidates'),
    (dict(start_threshold=-0.1), 'start_threshold'),
])
def test_bad_tuning_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tune_class_thresholds(hand_records(), CLASSES, E, **kwargs)


def test_tuning_needs_the_extended_matrix_and_metric_records():
    with pytest.raises(ValueError, match='extended_cost_matrix'):
        tune_class_thresholds(hand_records(), CLASSES, np.array(COSTS))
    broken = hand_records()
    del broken[1]['gt_bboxes']
    with pytest.raises(KeyError, match='gt_bboxes'):
        tune_class_thresholds(broken, CLASSES, E)
    wrong = hand_records()
    wrong[0]['labels'] = np.array([2])
    with pytest.raises(ValueError, match='outside the 2 classes'):
        tune_class_thresholds(wrong, CLASSES, E)
