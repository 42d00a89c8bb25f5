"""DecisionCostMetric(decision_rules=...) on the samples of
metric_samples.py (explicit matrix, E = [[0, 1, 4, 4], [2, 0, 1, 2],
[8, 3, 0, 8], [8, 3, 4, 0]]).

Thresholds a 0.85, b 0.5, c 0.99: image 1 keeps D0 (0.90 a) and D2
(0.60 b), image 3's 0.50 a goes. D0 -> G0 correct, D2 -> G1 (c as b): 3;
image 2's b missed: 2. Total 5, per image 5/3, 1 missed, 0 false alarms,
1 misclassified.

Min-risk (posterior s * p / sum(p), background 1 - s; R = posterior @ E):
D0 R = [1.88, 1.2, 3.1, 3.6] -> b (a as b: 1), D1 -> b (false alarm: 3),
D2 -> b (c as b: 3), D3 -> c (false alarm: 4), image 3's det -> no defect,
image 2's b missed (2): total 13, 1 missed, 2 false alarms, 2
misclassified.
"""
import json

import pytest
from metric_samples import COST_SPEC, example_samples, run_metric

from csdet.cost import build_decision_rule, rule_decision_metrics
from csdet.evaluation.metrics import DecisionCostMetric
from csdet.evaluation.metrics.decision_cost_metric import (RULE_KEYS,
                                                           rule_name)

THRESHOLDS = {'thresholds': {'a': 0.85, 'b': 0.5, 'c': 0.99}}
PLAIN_KEYS = {
    'total_cost', 'cost_per_image', 'misclassification_cost',
    'missed_cost', 'false_alarm_cost', 'num_correct', 'num_misclassified',
    'num_missed', 'num_false_alarms'
}


def rules_metric(rules, **kwargs):
    return DecisionCostMetric(**COST_SPEC, decision_rules=rules,
                              save_plot=False, save_curves=False, **kwargs)


def test_without_rules_the_keys_and_numbers_are_unchanged():
    metrics = run_metric(rules_metric(None), example_samples())
    assert set(metrics) == PLAIN_KEYS
    assert metrics['total_cost'] == pytest.approx(25.0)


def test_argmax_at_the_metric_threshold_equals_the_plain_metric():
    metrics = run_metric(rules_metric(['argmax']), example_samples())
    for key in RULE_KEYS:
        assert metrics[f'argmax/{key}'] == pytest.approx(metrics[key]), key
    assert metrics['argmax/total_cost'] == pytest.approx(25.0)
    # and at another operating threshold
    high = run_metric(rules_metric(['argmax'], score_thr=0.85),
                      example_samples())
    assert high['argmax/total_cost'] == pytest.approx(14.0)
    assert high['argmax/num_missed'] == high['num_missed'] == 2


def test_thresholds_dict_by_hand():
    metrics = run_metric(rules_metric([THRESHOLDS]), example_samples())
    assert metrics['thresholds/total_cost'] == pytest.approx(5.0)
    assert metrics['thresholds/cost_per_image'] == pytest.approx(5 / 3)
    assert (metrics['thresholds/num_missed'],
            metrics['thresholds/num_false_alarms'],
            metrics['thresholds/num_misclassified']) == (1, 0, 1)
    assert metrics['total_cost'] == pytest.approx(25.0)  # plain untouched


def test_rules_give_rule_decision_metrics_numbers(tmp_path):
    path = tmp_path / 'strict.json'
    path.write_text(json.dumps(THRESHOLDS))
    metric = DecisionCostMetric(**COST_SPEC, output_dir=str(tmp_path),
                                decision_rules=['argmax', 'min-risk',
                                                str(path)])
    metrics = run_metric(metric, example_samples())
    extended = metric.extended_cost_matrix()
    for spec, name in (('argmax', 'argmax'), ('min-risk', 'min-risk'),
                       (str(path), 'strict')):
        expected = rule_decision_metrics(
            metric.results, build_decision_rule(spec, extended,
                                                ['a', 'b', 'c']))
        for key in RULE_KEYS:
            assert metrics[f'{name}/{key}'] == pytest.approx(
                expected[key]), (name, key)
    assert metrics['strict/total_cost'] == pytest.approx(5.0)
    assert metrics['min-risk/total_cost'] == pytest.approx(13.0)
    assert (metrics['min-risk/num_missed'],
            metrics['min-risk/num_false_alarms'],
            metrics['min-risk/num_misclassified']) == (1, 2, 2)

    table = json.loads((tmp_path / 'decision_metric.json').read_text())[
        'decision_rules']
    assert [row['rule'] for row in table] == ['argmax', 'min-risk', 'strict']
    assert table[2]['source'] == str(path)
    assert table[2]['thresholds'] == THRESHOLDS['thresholds']
    assert table[1]['thresholds'] is None
    for row in table:
        for key in RULE_KEYS:
            assert row[key] == pytest.approx(metrics[f"{row['rule']}/{key}"])


def test_rule_names():
    assert rule_name('argmax') == 'argmax'
    assert rule_name('min-risk') == 'min-risk'
    assert rule_name({'thresholds': {}}) == 'thresholds'
    assert rule_name('work_dirs/run/tuned_cost.json') == 'tuned_cost'
    with pytest.raises(TypeError, match='decision rule spec'):
        rule_name(0.25)


def test_bad_rules_are_refused_early(tmp_path):
    with pytest.raises(ValueError, match='same name'):
        rules_metric(['argmax', 'argmax'])
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    for folder in ('a', 'b'):
        (tmp_path / folder / 't.json').write_text(json.dumps(THRESHOLDS))
    with pytest.raises(ValueError, match=r"same name \['t'\]"):
        rules_metric([str(tmp_path / 'a' / 't.json'),
                      str(tmp_path / 'b' / 't.json')])
    with pytest.raises(FileNotFoundError, match='tune_thresholds.py'):
        rules_metric(['argmax', str(tmp_path / 'missing.json')])


def test_thresholds_for_other_classes_are_refused():
    metric = rules_metric([{'thresholds': {'a': 0.3, 'b': 0.3, 'x': 0.3}}])
    with pytest.raises(ValueError, match=r"unknown classes \['x'\]"):
        run_metric(metric, example_samples())


def test_rules_need_cls_probs():
    metric = rules_metric(['argmax'])
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    with pytest.raises(KeyError, match='decision_rules'):
        metric.process({}, example_samples(with_probs=False)[:1])
    # the plain metric does not
    plain = rules_metric(None)
    plain.dataset_meta = dict(classes=('a', 'b', 'c'))
    plain.process({}, example_samples(with_probs=False)[:1])
