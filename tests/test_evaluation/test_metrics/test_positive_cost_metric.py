"""PositiveCostMetric: paper Eq. 16 over the loss's positives, by hand.

Costs (rows true a, b, c): [[0, 1, 4], [2, 0, 1], [8, 3, 0]].
    image 1: t = a, P = (0.5, 0.5, 0.1) -> 0.5 + 0.4 = 0.9
             t = c, P = (0.1, 0.2, 0.9) -> 0.8 + 0.6 = 1.4
    image 2: no positives.     image 3: t = b, P = (1, 0, 1) -> 2 + 1 = 3
Cost = (0.9 + 1.4 + 3) / 3 = 1.7666...
"""
import json
import math

import numpy as np
import pytest
from metric_samples import COST_SPEC, run_metric

from csdet.evaluation.metrics import PositiveCostMetric


def positives(labels, probs):
    return dict(img_id=len(labels), loss_positives=dict(
        labels=np.asarray(labels, np.int64),
        probs=np.asarray(probs, np.float32).reshape(len(labels), -1)))


SAMPLES = [
    positives([0, 2], [[0.5, 0.5, 0.1], [0.1, 0.2, 0.9]]),
    dict(img_id=7, loss_positives=dict(labels=np.zeros(0, np.int64),
                                       probs=np.zeros((0, 0), np.float32))),
    positives([1], [[1.0, 0.0, 1.0]]),
]


def test_eq16_over_positives_by_hand(tmp_path):
    metric = PositiveCostMetric(**COST_SPEC, output_dir=str(tmp_path))
    metrics = run_metric(metric, SAMPLES)
    assert metrics['cost'] == pytest.approx((0.9 + 1.4 + 3.0) / 3)
    assert metrics['cost_x1e3'] == pytest.approx(1e3 * 5.3 / 3)
    assert metrics['F'] == 3
    assert metrics['cost_a'] == pytest.approx(0.9)
    assert metrics['cost_b'] == pytest.approx(3.0)
    assert metrics['cost_c'] == pytest.approx(1.4)
    saved = json.loads((tmp_path / 'cost_pos_metric.json').read_text())
    assert saved['per_class_F'] == dict(a=1, b=1, c=1)


def test_no_positives_is_nan_not_zero(tmp_path):
    metric = PositiveCostMetric(**COST_SPEC, output_dir=str(tmp_path))
    metrics = run_metric(metric, SAMPLES[1:2])
    assert math.isnan(metrics['cost']) and metrics['F'] == 0


def test_missing_hook_output_names_the_fix():
    metric = PositiveCostMetric(**COST_SPEC)
    with pytest.raises(KeyError, match='LossPositivesHook'):
        run_metric(metric, [dict(img_id=1)])


def test_column_count_must_match_the_classes():
    metric = PositiveCostMetric(**COST_SPEC)
    with pytest.raises(ValueError, match='3 classes'):
        run_metric(metric, [positives([0], [[0.5, 0.5]])])
