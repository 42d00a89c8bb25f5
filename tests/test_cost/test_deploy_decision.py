"""Deployment decision rules (csdet.cost.deploy_decision) by hand.

Two classes, extended cost matrix (rows true, columns decided, index 2 =
background / "no defect"):

    E = [[0, 1, 5],     true 0: call it 1 costs 1, miss it costs 5
         [2, 0, 3],     true 1: call it 0 costs 2, miss it costs 3
         [4, 6, 0]]     background: false alarm 0 costs 4, as 1 costs 6

Posterior P = [s * p / sum(p), 1 - s]; risks R = P @ E.

    A: s = 0.9, p = [0.6, 0.2] -> P = [0.675, 0.225, 0.1]
       R = [0.85, 1.275, 4.05]            -> class 0, 0.85
    B: s = 0.2, p = [0.5, 0.5] -> P = [0.1, 0.1, 0.8]
       R = [3.4, 4.9, 0.8]                -> no defect, 0.8
    C: s = 1.0, p = [0.6, 0.4] -> P = [0.6, 0.4, 0]
       R = [0.8, 0.6, 4.2]                -> class 1 (not the most probable)
"""
import json

import numpy as np
import pytest

from csdet.cost import (Decisions, argmax_decisions, build_decision_rule,
                        decision_risks, min_risk_decisions, posterior,
                        threshold_decisions, write_thresholds_json)

E = np.array([[0., 1., 5.], [2., 0., 3.], [4., 6., 0.]])
CLASSES = ('a', 'b')
PROBS = np.array([[0.6, 0.2], [0.5, 0.5], [0.6, 0.4]])
SCORES = np.array([0.9, 0.2, 1.0], dtype=np.float32)


def test_posterior_by_hand():
    np.testing.assert_allclose(
        posterior(PROBS, SCORES),
        [[0.675, 0.225, 0.1], [0.1, 0.1, 0.8], [0.6, 0.4, 0.0]], atol=1e-7)


def test_zero_probabilities_get_the_uniform_class_distribution():
    np.testing.assert_allclose(posterior([[0.0, 0.0]], [0.5]),
                               [[0.25, 0.25, 0.5]])


def test_risks_by_hand():
    np.testing.assert_allclose(
        decision_risks(PROBS, SCORES, E),
        [[0.85, 1.275, 4.05], [3.4, 4.9, 0.8], [0.8, 0.6, 4.2]], atol=1e-6)


def test_min_risk_by_hand_with_no_defect_winning():
    decisions = min_risk_decisions(PROBS, SCORES, E)
    assert isinstance(decisions, Decisions)
    assert decisions.labels.dtype == np.int64
    assert decisions.labels.tolist() == [0, 2, 1]
    np.testing.assert_allclose(decisions.expected_costs, [0.85, 0.8, 0.6],
                               atol=1e-6)


def test_min_risk_ties_go_to_the_lowest_index():
    symmetric = np.array([[0., 1., 5.], [1., 0., 5.], [1., 1., 0.]])
    # R = [0.5, 0.5, 5]: class 0 and class 1 tie
    assert min_risk_decisions([[0.5, 0.5]], [1.0],
                              symmetric).labels.tolist() == [0]
    # s = 0.5, p = [1, 0] under 0-1 costs: R = [0.5, 1.0, 0.5], class 0
    # ties with "no defect" and wins
    zero_one = 1 - np.eye(3)
    decisions = min_risk_decisions([[1.0, 0.0]], [0.5], zero_one)
    assert decisions.labels.tolist() == [0]
    assert decisions.expected_costs.tolist() == [0.5]


def test_no_detections():
    decisions = min_risk_decisions(np.zeros((0, 2)), np.zeros(0), E)
    assert decisions.labels.shape == (0, )
    assert decisions.labels.dtype == np.int64
    assert decisions.expected_costs.shape == (0, )
    empty = argmax_decisions(np.zeros(0, np.int64), [], 0.25, [], E)
    assert empty.labels.shape == (0, )


@pytest.mark.parametrize('probs,scores,matrix,match', [
    (PROBS[:, :1], SCORES, E, r'\[D, 2\]'),
    (PROBS, SCORES[:2], E, 'rows'),
    ([[np.nan, 0.1]], [0.5], E, 'NaN'),
    ([[0.5, 0.1]], [np.nan], E, 'NaN'),
    ([[0.5, 0.1]], [1.5], E, r'\[0, 1\]'),
    ([[2.0, -3.0]], [0.5], E, 'logits'),
    ([[0.5, 0.1]], [[0.5]], E, '1-D'),
    ([[0.5, 0.1]], [0.5], E[:2], r'\(N\+1\) x \(N\+1\)'),
    ([[0.5, 0.1]], [0.5], -E, 'non-negative'),
])
def test_min_risk_rejects_bad_input(probs, scores, matrix, match):
    with pytest.raises(ValueError, match=match):
        min_risk_decisions(probs, scores, matrix)


def test_argmax_keeps_scores_at_the_threshold():
    labels = np.array([0, 1, 1])
    scores = np.array([0.9, 0.2, 0.25], dtype=np.float32)
    probs = np.array([[0.6, 0.2], [0.5, 0.5], [0.5, 0.5]])
    decisions = argmax_decisions(labels, scores, 0.25, probs, E)
    # float32 0.25 >= float32(0.25): kept; 0.2 -> no defect
    assert decisions.labels.tolist() == [0, 2, 1]
    # risks from the same posterior: A R(0) = 0.85; B R(2) = 0.8;
    # P = [0.125, 0.125, 0.75] -> R(1) = 0.125 + 4.5 = 4.625
    np.testing.assert_allclose(decisions.expected_costs,
                               [0.85, 0.8, 4.625], atol=1e-6)


def test_threshold_decisions_are_per_class():
    labels = np.array([0, 1, 0, 1])
    scores = np.array([0.3, 0.3, 0.6, 0.05], dtype=np.float32)
    probs = np.full((4, 2), 0.5)
    decisions = threshold_decisions(labels, scores, [0.5, 0.1], probs, E)
    assert decisions.labels.tolist() == [2, 1, 0, 2]


@pytest.mark.parametrize('labels,thresholds,match', [
    ([0, 2], [0.5, 0.5], r'\[0, 2\)'),
    ([0.0, 1.0], [0.5, 0.5], 'integers'),
    ([0], [0.5, 0.5], 'D=2'),
    ([0, 1], [0.5], '2 values'),
    ([0, 1], [0.5, 1.5], r'per_class_thresholds\[1\]'),
])
def test_threshold_decisions_reject_bad_input(labels, thresholds, match):
    with pytest.raises(ValueError, match=match):
        threshold_decisions(np.asarray(labels), [0.3, 0.6], thresholds,
                            np.full((2, 2), 0.5), E)


def test_rules_from_names():
    argmax = build_decision_rule('argmax', E, score_thr=0.5)
    assert argmax.name == 'argmax' and argmax.no_defect == 2
    assert argmax([0, 1, 0], SCORES, PROBS).labels.tolist() == [0, 2, 0]
    min_risk = build_decision_rule('min-risk', E)
    assert min_risk([0, 0, 0], SCORES, PROBS).labels.tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match='score_thr'):
        build_decision_rule('argmax', E, score_thr=2)


def test_rule_from_thresholds_file_and_dict(tmp_path):
    path = write_thresholds_json(
        {'thresholds': {'b': 0.1, 'a': 0.5}, 'objective': 'f1'},
        tmp_path / 'sub' / 'thr.json')
    assert json.loads(path.read_text())['thresholds'] == {'b': 0.1, 'a': 0.5}
    assert [p.name for p in path.parent.iterdir()] == ['thr.json']
    for spec in (str(path), path, json.loads(path.read_text())):
        rule = build_decision_rule(spec, E, classes=CLASSES)
        assert rule.name == 'thresholds'
        np.testing.assert_array_equal(rule.thresholds, [0.5, 0.1])
        assert rule([0, 1, 0, 1], [0.3, 0.3, 0.6, 0.05],
                    np.full((4, 2), 0.5)).labels.tolist() == [2, 1, 0, 2]


def test_thresholds_json_bytes(tmp_path):
    # indent 2, keys in payload order, one trailing newline; temp file gone
    payload = {'thresholds': {'b': 0.1, 'a': 0.30000001192092896},
               'objective': 'decision_cost', 'iou_thr': 0.5,
               'tuned_on': {'ann_file': 'val.json', 'seed': 3},
               'extended_cost_matrix': [[0.0, 1.5], [2.0, 0.0]],
               'macro_f1': {'start': None}}
    path = write_thresholds_json(payload, tmp_path / 'thr.json')
    assert path.read_text() == json.dumps(payload, indent=2) + '\n'
    assert [p.name for p in tmp_path.iterdir()] == ['thr.json']


def test_thresholds_json_takes_numpy_values(tmp_path):
    plain = {'thresholds': {'a': 0.25, 'b': 0.5}, 'num_images': 7,
             'extended_cost_matrix': [[0.0, 1.0], [2.0, 0.0]]}
    payload = {'thresholds': {'a': np.float64(0.25), 'b': np.float64(0.5)},
               'num_images': np.int64(7),
               'extended_cost_matrix': np.array([[0.0, 1.0], [2.0, 0.0]])}
    path = write_thresholds_json(payload, tmp_path / 'thr.json')
    assert path.read_text() == json.dumps(plain, indent=2) + '\n'


@pytest.mark.parametrize('content,match', [
    ({'thresholds': {'a': 0.5, 'b': 0.1, 'c': 0.2}},
     r"unknown classes \['c'\]"),
    ({'thresholds': {'a': 0.5}}, r"no threshold for classes \['b'\]"),
    ({'thresholds': {'a': 0.5, 'b': 1.2}}, r"threshold of 'b'.*\[0, 1\]"),
    ({'thresholds': {'a': 0.5, 'b': 'high'}}, "threshold of 'b'"),
    ({'a': 0.5, 'b': 0.1}, '"thresholds" mapping'),
    ([0.5, 0.1], '"thresholds" mapping'),
])
def test_bad_thresholds_file_names_the_file_and_the_fix(
        tmp_path, content, match):
    path = tmp_path / 'thr.json'
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=match) as error:
        build_decision_rule(str(path), E, classes=CLASSES)
    assert str(path) in str(error.value)


def test_thresholds_need_class_names_and_a_valid_file(tmp_path):
    with pytest.raises(ValueError, match='classes=\\[...\\]'):
        build_decision_rule({'thresholds': {'a': 0.5, 'b': 0.5}}, E)
    with pytest.raises(FileNotFoundError, match="'argmax' nor 'min-risk'"):
        build_decision_rule(str(tmp_path / 'missing.json'), E,
                            classes=CLASSES)
    broken = tmp_path / 'broken.json'
    broken.write_text('{"thresholds": ')
    with pytest.raises(ValueError, match='broken.json: not valid JSON'):
        build_decision_rule(str(broken), E, classes=CLASSES)
    with pytest.raises(TypeError, match='spec'):
        build_decision_rule(3, E)
