"""Decision math (csdet.cost.decision) on hand-computed cases.

Running example, 3 classes, C[t, k] = cost of predicting k for true t:

    C = [[0, 1, 4],
         [2, 0, 1],
         [8, 3, 0]]

p = [0.7, 0.2, 0.1]:
    R_0 = 0.7*0 + 0.2*2 + 0.1*8 = 1.2
    R_1 = 0.7*1 + 0.2*0 + 0.1*3 = 1.0
    R_2 = 0.7*4 + 0.2*1 + 0.1*0 = 3.0
so the Bayes decision is class 1 although class 0 is the most probable.
"""
import numpy as np
import pytest
import torch

from csdet.cost import (bayes_min_risk_labels, build_cost_matrix,
                        confusion_cost, expected_costs, extend_cost_matrix,
                        sample_costs)

COSTS = np.array([[0., 1., 4.], [2., 0., 1.], [8., 3., 0.]])
PROBS = np.array([0.7, 0.2, 0.1])


def test_expected_costs_numpy_by_hand():
    risks = expected_costs(PROBS, COSTS)
    assert isinstance(risks, np.ndarray)
    np.testing.assert_allclose(risks, [1.2, 1.0, 3.0])


def test_expected_costs_torch_keeps_kind_dtype_and_batch_shape():
    probs = torch.tensor([[[0.7, 0.2, 0.1], [0.0, 0.0, 1.0]]],
                         dtype=torch.float32)  # [1, 2, 3]
    risks = expected_costs(probs, COSTS)
    assert isinstance(risks, torch.Tensor)
    assert risks.dtype == torch.float32 and risks.shape == (1, 2, 3)
    # second row is one-hot on class 2 -> row 2 of C
    torch.testing.assert_close(
        risks, torch.tensor([[[1.2, 1.0, 3.0], [8.0, 3.0, 0.0]]]))


def test_bayes_labels_differ_from_argmax_numpy_and_torch():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4], [0.0, 0.1, 0.9]])
    # row 2: R = [0.1*0+0.5*2+0.4*8, 0.1+0+0.4*3, 0.4+0.5+0] = [4.2, 1.3, 0.9]
    # row 3: R = [0.2+7.2, 2.7, 0.1] = [7.4, 2.7, 0.1]
    expected = [1, 2, 2]
    labels = bayes_min_risk_labels(probs, COSTS)
    assert isinstance(labels, np.ndarray) and labels.dtype == np.int64
    assert labels.tolist() == expected
    torch_labels = bayes_min_risk_labels(torch.tensor(probs), COSTS)
    assert isinstance(torch_labels, torch.Tensor)
    assert torch_labels.tolist() == expected
    # a torch cost matrix works as well
    assert bayes_min_risk_labels(torch.tensor(probs),
                                 torch.tensor(COSTS)).tolist() == expected


def test_bayes_labels_tie_goes_to_lowest_index():
    # all-zero probabilities: every class has risk 0
    assert bayes_min_risk_labels(np.zeros((1, 3)), COSTS).tolist() == [0]
    assert bayes_min_risk_labels(torch.zeros(1, 3), COSTS).tolist() == [0]


def test_zero_one_cost_reduces_bayes_rule_to_argmax():
    zero_one = 1 - np.eye(3)
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=50)
    np.testing.assert_array_equal(
        bayes_min_risk_labels(probs, zero_one), probs.argmax(axis=1))


def test_sample_costs_by_hand():
    probs = np.array([[0.7, 0.2, 0.1], [0.7, 0.2, 0.1], [0.1, 0.5, 0.4]])
    true_labels = [0, 2, 2]
    # P.C[0] = 0.2*1 + 0.1*4 = 0.6; P.C[2] = 0.7*8 + 0.2*3 = 6.2;
    # P.C[2] = 0.1*8 + 0.5*3 = 2.3
    np.testing.assert_allclose(
        sample_costs(probs, true_labels, COSTS), [0.6, 6.2, 2.3])
    torch_costs = sample_costs(
        torch.tensor(probs, dtype=torch.float32), torch.tensor(true_labels),
        COSTS)
    assert isinstance(torch_costs, torch.Tensor)
    assert torch_costs.dtype == torch.float32
    torch.testing.assert_close(torch_costs, torch.tensor([0.6, 6.2, 2.3]))


def test_sample_costs_of_one_hot_is_the_matrix_entry():
    true_labels = np.array([0, 1, 2, 2])
    predicted = np.array([2, 0, 1, 2])
    one_hot = np.eye(3)[predicted]
    np.testing.assert_allclose(
        sample_costs(one_hot, true_labels, COSTS),
        COSTS[true_labels, predicted])


def test_sample_costs_on_paper_matrix():
    classes = ('crazing', 'inclusion', 'patches', 'pitted_surface',
               'rolled-in_scale', 'scratches')
    matrix = build_cost_matrix(
        classes, ['patches', 'pitted_surface', 'inclusion', 'scratches'],
        (200, 20, 2, 1), normalize='max')
    # true patches (positive): 0.1 on crazing (negative, C = 20/200 = 0.1),
    # 0.2 on rolled-in_scale (negative, 0.1), 0.3 on inclusion (positive,
    # 1/200): 0.01 + 0.02 + 0.0015 = 0.0315
    probs = np.array([[0.1, 0.3, 0.8, 0.0, 0.2, 0.0]])
    np.testing.assert_allclose(sample_costs(probs, [2], matrix), [0.0315])
    # true crazing (negative) predicted patches (positive): lambda_NP = 1
    np.testing.assert_allclose(
        sample_costs(np.eye(6)[[2]], [0], matrix), [1.0])


def test_empty_inputs_give_empty_outputs():
    assert sample_costs(np.zeros((0, 3)), np.zeros(0, dtype=int),
                        COSTS).shape == (0, )
    assert bayes_min_risk_labels(torch.zeros(0, 3), COSTS).shape == (0, )


@pytest.mark.parametrize('call', [
    lambda: expected_costs(np.ones((2, 4)), COSTS),
    lambda: expected_costs(np.ones(3), np.ones((3, 2))),
    lambda: sample_costs(np.ones((2, 3)), [0, 3], COSTS),
    lambda: sample_costs(np.ones((2, 3)), [0], COSTS),
    lambda: sample_costs(torch.ones(2, 3), torch.tensor([-1, 0]), COSTS),
    lambda: expected_costs([0.1, 0.9, 0.0], COSTS),
])
def test_bad_input_is_refused(call):
    with pytest.raises((ValueError, TypeError)):
        call()


def test_extend_cost_matrix_defaults_and_values():
    extended = extend_cost_matrix(COSTS)
    # missed = row maxima [4, 2, 8]; false alarm = column maxima [8, 3, 4]
    np.testing.assert_array_equal(
        extended,
        [[0, 1, 4, 4], [2, 0, 1, 2], [8, 3, 0, 8], [8, 3, 4, 0]])
    custom = extend_cost_matrix(COSTS, missed_costs=5,
                                false_alarm_costs=[1, 2, 3])
    np.testing.assert_array_equal(custom[:3, 3], [5, 5, 5])
    np.testing.assert_array_equal(custom[3], [1, 2, 3, 0])
    with pytest.raises(ValueError, match='missed_costs'):
        extend_cost_matrix(COSTS, missed_costs=[1, 2])
    with pytest.raises(ValueError, match='false_alarm_costs'):
        extend_cost_matrix(COSTS, false_alarm_costs=-1)


def test_confusion_cost_by_hand():
    confusion = np.array([[1, 0, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0],
                          [2, 0, 1, 0]])
    # 1*0 + 1*2 (missed b) + 1*3 (c as b) + 2*8 + 1*4 (false alarms) = 25
    assert confusion_cost(confusion, extend_cost_matrix(COSTS)) == 25.0
    with pytest.raises(ValueError, match='shape'):
        confusion_cost(np.ones((3, 3)), np.ones((4, 4)))
