"""ThresholdTuningMetric: tunes per-class thresholds on the records it
collects and writes the thresholds JSON.

Hand case, classes a, b; object costs C = [[0, 1], [1, 0]], a missed a
costs 10, a missed b 1, a false alarm a 1, a false alarm b 10:

    image 1: gt a at G, detection a (0.10) on G
    image 2: no gt, detection b (0.30)            -> false alarm b
    image 3: gt b at G, detection b (0.90) on G   -> correct

At 0.25 for both: a missed (10) + false alarm b (10) = 20. Over the
candidates [0.05, 0.1, 0.2, 0.4, 0.6, 0.95]: a -> 0.05, b -> 0.4, cost 0;
macro F1 1/3 -> 1.
"""
import json

import numpy as np
import pytest
from metric_samples import make_sample, run_metric
from mmdet.registry import METRICS

from csdet.cost import build_decision_rule
from csdet.evaluation.metrics import DecisionCostMetric, ThresholdTuningMetric

CLASSES = ('a', 'b')
BOX = [10., 10., 50., 50.]
COST = dict(cost_matrix=[[0., 1.], [1., 0.]], normalize='none',
            missed_cost=[10, 1], false_alarm_cost=[1, 10])
E = [[0., 1., 10.], [1., 0., 1.], [1., 10., 0.]]
CANDIDATES = [0.05, 0.1, 0.2, 0.4, 0.6, 0.95]


def hand_samples(with_probs: bool = False) -> list:
    probs = [[0.5, 0.5]] if with_probs else None
    return [
        make_sample([BOX], [0.1], [0], probs, gt_bboxes=[BOX],
                    gt_labels=[0], img_id=1),
        make_sample([BOX], [0.3], [1], probs, img_id=2),
        make_sample([BOX], [0.9], [1], probs, gt_bboxes=[BOX],
                    gt_labels=[1], img_id=3),
    ]


def tuning_metric(out_file, **kwargs) -> ThresholdTuningMetric:
    options = dict(out_file=str(out_file), ann_file='data/val.json',
                   candidates=CANDIDATES, **COST)
    options.update(kwargs)
    return ThresholdTuningMetric(**options)


def test_hand_case_writes_the_tuned_thresholds(tmp_path):
    out = tmp_path / 'rules' / 'tuned.json'
    metric = tuning_metric(out, provenance=dict(config='cfg.py'))
    metrics = run_metric(metric, hand_samples(), classes=CLASSES)
    assert metrics == dict(start_decision_cost=20.0, tuned_decision_cost=0.0,
                           start_macro_f1=pytest.approx(1 / 3),
                           tuned_macro_f1=1.0, num_images=3)
    saved = json.loads(out.read_text())
    assert saved['thresholds'] == {'a': 0.05, 'b': 0.4}
    assert saved['decision_cost'] == {'start': 20.0, 'tuned': 0.0}
    assert saved['tuned_on'] == {'ann_file': 'data/val.json',
                                 'config': 'cfg.py'}
    assert saved['classes'] == ['a', 'b']
    assert saved['extended_cost_matrix'] == E
    assert saved['objective'] == 'decision_cost'
    assert [p.name for p in out.parent.iterdir()] == ['tuned.json']
    # the file is a rule, and DecisionCostMetric prices it as tuned
    rule = build_decision_rule(str(out), np.array(E), CLASSES)
    np.testing.assert_allclose(rule.thresholds, [0.05, 0.4])
    checked = run_metric(
        DecisionCostMetric(**COST, decision_rules=[str(out)],
                           save_plot=False, save_curves=False),
        hand_samples(with_probs=True), classes=CLASSES)
    assert checked['tuned/total_cost'] == 0.0
    assert checked['total_cost'] == 20.0


def test_start_threshold_is_the_metric_score_thr(tmp_path):
    # from 0.05 for both: a kept (0), false alarm b kept (10) -> 10;
    # tuned b -> 0.4: 0
    out = tmp_path / 't.json'
    metrics = run_metric(tuning_metric(out, score_thr=0.05), hand_samples(),
                         classes=CLASSES)
    assert metrics['start_decision_cost'] == 10.0
    assert metrics['tuned_decision_cost'] == 0.0
    assert json.loads(out.read_text())['start_threshold'] == 0.05


def test_f1_objective(tmp_path):
    out = tmp_path / 't.json'
    metrics = run_metric(tuning_metric(out, objective='f1'), hand_samples(),
                         classes=CLASSES)
    assert metrics['tuned_macro_f1'] == 1.0
    saved = json.loads(out.read_text())
    assert saved['objective'] == 'f1'
    assert saved['thresholds'] == {'a': 0.05, 'b': 0.4}


def test_built_from_the_registry(tmp_path):
    metric = METRICS.build(dict(type='ThresholdTuningMetric',
                                out_file=str(tmp_path / 't.json'),
                                ann_file='val.json', **COST))
    assert isinstance(metric, DecisionCostMetric)
    assert metric.prefix == 'tuning'


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(objective='map'), ValueError, 'objective must be one of'),
    (dict(ann_file=''), ValueError, 'ann_file'),
    (dict(decision_rules=['argmax']), ValueError, 'does not score'),
])
def test_bad_arguments(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        tuning_metric(tmp_path / 't.json', **kwargs)
