"""Tests for CostSensitiveLoss (paper Eq. 12-15), sigmoid and softmax."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmdet.models.losses import CrossEntropyLoss
from mmdet.registry import MODELS

from csdet.cost import resolve_cost_matrix
from csdet.models.losses import CostSensitiveLoss
from csdet.datasets import NEU_DET_CLASSES

NEU_CLASSES = NEU_DET_CLASSES
NEU_POSITIVE = ['patches', 'pitted_surface', 'inclusion', 'scratches']
NUM_CLASSES = 6
COST_SPEC = dict(classes=NEU_CLASSES, positive_classes=NEU_POSITIVE)


def make_loss(use_sigmoid, **kwargs):
    return CostSensitiveLoss(use_sigmoid=use_sigmoid, **COST_SPEC, **kwargs)


def sample_inputs(use_sigmoid, num_samples=12, seed=0,
                  dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    columns = NUM_CLASSES if use_sigmoid else NUM_CLASSES + 1
    logits = torch.randn(num_samples, columns, generator=generator,
                         dtype=dtype) * 3
    # Every class at least once, plus background (label NUM_CLASSES).
    labels = torch.arange(num_samples) % (NUM_CLASSES + 1)
    weight = torch.rand(num_samples, generator=generator)
    return logits, labels, weight


def cost_rows(labels, matrix):
    return torch.as_tensor(matrix, dtype=torch.float64)[labels]


def test_registry_build_and_buffer():
    loss = MODELS.build(
        dict(type='CostSensitiveLoss', use_sigmoid=True, group='b',
             **COST_SPEC))
    assert isinstance(loss, CostSensitiveLoss)
    expected = resolve_cost_matrix(group='b', **COST_SPEC)
    np.testing.assert_allclose(loss.cost_matrix.numpy(), expected,
                               rtol=1e-6)
    assert loss.cost_matrix.dtype == torch.float32
    # A buffer that follows .to(device) but is never saved in checkpoints.
    assert 'cost_matrix' in dict(loss.named_buffers())
    assert 'cost_matrix' not in loss.state_dict()
    assert loss.to('meta').cost_matrix.device.type == 'meta'


def test_registry_build_from_file(tmp_path):
    path = tmp_path / 'costs.json'
    path.write_text('{"classes": ["a", "b"], "matrix": [[0, 4], [2, 0]]}')
    loss = MODELS.build(
        dict(type='CostSensitiveLoss', use_sigmoid=False,
             cost_matrix=str(path), classes=['a', 'b'], normalize='none'))
    assert loss.cost_matrix.tolist() == [[0, 4], [2, 0]]
    assert loss.extended_cost_matrix.shape == (3, 3)
    assert loss.extended_cost_matrix[:, 2].abs().sum() == 0
    assert loss.extended_cost_matrix[2].abs().sum() == 0


@pytest.mark.parametrize('use_sigmoid', [True, False])
def test_class_count_mismatch_is_clear(use_sigmoid):
    loss = make_loss(use_sigmoid)
    logits = torch.zeros(4, 5)
    with pytest.raises(ValueError, match=r'expects cls_score of shape'):
        loss(logits, torch.zeros(4, dtype=torch.long))


@pytest.mark.parametrize('use_sigmoid', [True, False])
@pytest.mark.parametrize('reduction', ['none', 'mean', 'sum'])
@pytest.mark.parametrize('with_weight', [False, True])
@pytest.mark.parametrize('avg_factor', [None, 5.0])
def test_cost_weight_zero_is_bit_exact_mmdet(use_sigmoid, reduction,
                                             with_weight, avg_factor):
    logits, labels, weight = sample_inputs(use_sigmoid)
    weight = weight if with_weight else None
    ours = make_loss(use_sigmoid, cost_weight=0.0, loss_weight=0.7,
                     reduction=reduction)
    reference = CrossEntropyLoss(use_sigmoid=use_sigmoid, loss_weight=0.7,
                                 reduction=reduction)
    if avg_factor is not None and reduction == 'sum':
        for module in (ours, reference):
            with pytest.raises(ValueError, match='avg_factor'):
                module(logits, labels, weight, avg_factor=avg_factor)
        return
    expected = reference(logits, labels, weight, avg_factor=avg_factor)
    actual = ours(logits, labels, weight, avg_factor=avg_factor)
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert torch.equal(actual, expected)
    # reduction_override goes the same way.
    assert torch.equal(
        ours(logits, labels, weight, reduction_override='sum'),
        reference(logits, labels, weight, reduction_override='sum'))


@pytest.mark.filterwarnings('ignore:Default ``avg_non_ignore``')
@pytest.mark.parametrize('use_sigmoid', [True, False])
def test_cost_weight_zero_bit_exact_with_ignore_index(use_sigmoid):
    logits, labels, weight = sample_inputs(use_sigmoid)
    labels[[1, 5]] = -1
    for avg_non_ignore in (False, True):
        kwargs = dict(ignore_index=-1, avg_non_ignore=avg_non_ignore)
        ours = make_loss(use_sigmoid, cost_weight=0.0, **kwargs)
        reference = CrossEntropyLoss(use_sigmoid=use_sigmoid, **kwargs)
        assert torch.equal(ours(logits, labels, weight),
                           reference(logits, labels, weight))
        assert torch.equal(ours(logits, labels), reference(logits, labels))


def test_cost_weight_zero_bit_exact_float64_and_one_hot():
    logits, labels, _ = sample_inputs(True, dtype=torch.float64)
    one_hot = F.one_hot(labels, NUM_CLASSES + 1)[:, :NUM_CLASSES].double()
    weight = torch.rand(one_hot.shape, generator=torch.Generator().manual_seed(
        3), dtype=torch.float64)
    ours = make_loss(True, cost_weight=0.0)
    reference = CrossEntropyLoss(use_sigmoid=True)
    for target, sample_weight in ((labels, None), (one_hot, weight)):
        actual = ours(logits, target, sample_weight)
        expected = reference(logits, target, sample_weight)
        # mmdet casts targets with label.float(), so its BCE is float32
        # even for float64 logits; ours must match that too.
        assert actual.dtype == expected.dtype
        assert torch.equal(actual, expected)


def test_hand_computed_sigmoid():
    # z = [[0, ln 3], [ln 3, 0]]: sigmoid = [[1/2, 3/4], [3/4, 1/2]].
    # Sample 0 is class 0: BCE = ln 2 + 2 ln 2, cost = 3/4 * C[0, 1] = 3/4.
    # Sample 1 is background: BCE = 2 ln 2 + ln 2, no cost term.
    logits = torch.tensor([[0.0, math.log(3)], [math.log(3), 0.0]])
    labels = torch.tensor([0, 2])
    common = dict(use_sigmoid=True, cost_matrix=[[0, 1], [0.5, 0]],
                  normalize='none', loss_weight=2.0, cost_weight=0.5,
                  eta=2.0)
    bce_sum = 6 * math.log(2)
    summed = CostSensitiveLoss(reduction='sum', **common)(logits, labels)
    assert summed.item() == pytest.approx(2 * bce_sum + 0.75, rel=1e-6)
    mean = CostSensitiveLoss(cost_reduction='mean', **common)(logits, labels)
    assert mean.item() == pytest.approx(2 * bce_sum / 4 + 0.75 / 4,
                                        rel=1e-6)
    paper = CostSensitiveLoss(cost_reduction='sum', **common)(logits, labels)
    assert paper.item() == pytest.approx(2 * bce_sum / 4 + 0.75, rel=1e-6)
    per_element = CostSensitiveLoss(reduction='none', **common)(logits,
                                                                labels)
    ln2 = math.log(2)
    torch.testing.assert_close(
        per_element,
        torch.tensor([[2 * ln2, 2 * 2 * ln2 + 0.75], [2 * 2 * ln2, 2 * ln2]]))


def test_hand_computed_softmax_with_background_costs():
    # Sample 0: z = 0 -> p = 1/3 each, class 0: CE = ln 3,
    #   cost = 1/3 * C[0, 1] = 2/3 (+ 1/3 * missed[0] = 4/3 when set).
    # Sample 1: background, z = [ln 2, 0, 0] -> p = [1/2, 1/4, 1/4]:
    #   CE = -ln 1/4; cost 0 (+ 1/2 * 1 + 1/4 * 3 = 5/4 with false alarms).
    logits = torch.tensor([[0.0, 0.0, 0.0], [math.log(2), 0.0, 0.0]])
    labels = torch.tensor([0, 2])
    common = dict(use_sigmoid=False, cost_matrix=[[0, 2], [1, 0]],
                  normalize='none', reduction='none')
    ce = torch.tensor([math.log(3), 2 * math.log(2)])
    plain = CostSensitiveLoss(**common)(logits, labels)
    torch.testing.assert_close(plain, ce + torch.tensor([2 / 3, 0.0]))
    with_background = CostSensitiveLoss(
        missed_costs=[4, 5], false_alarm_costs=[1, 3], **common)(logits,
                                                                 labels)
    torch.testing.assert_close(with_background,
                               ce + torch.tensor([2 / 3 + 4 / 3, 5 / 4]))


@pytest.mark.parametrize('use_sigmoid', [True, False])
def test_loss_parts_sum_to_forward(use_sigmoid):
    logits, labels, weight = sample_inputs(use_sigmoid)
    loss = make_loss(use_sigmoid, cost_weight=0.8, loss_weight=0.5)
    parts = loss.loss_parts(logits, labels, weight, avg_factor=7.0)
    total = loss(logits, labels, weight, avg_factor=7.0)
    assert set(parts) == {'loss_cls_ce', 'loss_cls_cost'}
    assert torch.equal(parts['loss_cls_ce'] + parts['loss_cls_cost'], total)
    assert parts['loss_cls_cost'] > 0
    assert torch.equal(loss.last_parts['loss_cls_cost'],
                       parts['loss_cls_cost'])
    assert not loss.last_parts['loss_cls_ce'].requires_grad
    reference = CrossEntropyLoss(use_sigmoid=use_sigmoid, loss_weight=0.5)
    assert torch.equal(parts['loss_cls_ce'],
                       reference(logits, labels, weight, avg_factor=7.0))


def test_sigmoid_cost_part_matches_paper_formula():
    logits, labels, weight = sample_inputs(True, dtype=torch.float64)
    class_weight = [1.0, 2.0, 0.5, 1.5, 1.0, 3.0]
    loss = make_loss(True, reduction='sum', cost_weight=0.7, eta=0.3,
                     class_weight=class_weight)
    matrix = resolve_cost_matrix(**COST_SPEC)
    positive = labels < NUM_CLASSES
    class_weight_tensor = torch.tensor(class_weight, dtype=torch.float64)
    expected = 0.3 * 0.7 * (
        weight[positive, None] * class_weight_tensor *
        logits[positive].sigmoid() * cost_rows(labels[positive], matrix)).sum()
    cost = loss.loss_parts(logits, labels, weight)['loss_cls_cost']
    torch.testing.assert_close(cost, expected)


def test_sigmoid_closed_form_gradient():
    # Paper Eq. 14-15: dL_cost/dz_n = eta*cost_weight*w_n*C[t, n]*s(1 - s).
    logits, labels, _ = sample_inputs(True, dtype=torch.float64)
    logits.requires_grad_(True)
    class_weight = torch.tensor([1.0, 2.0, 0.5, 1.5, 1.0, 3.0],
                                dtype=torch.float64)
    eta, cost_weight = 1e-2, 2.5
    loss = make_loss(True, reduction='sum', eta=eta, cost_weight=cost_weight,
                     class_weight=class_weight.tolist())
    loss.loss_parts(logits, labels)['loss_cls_cost'].backward()
    matrix = resolve_cost_matrix(**COST_SPEC)
    sig = logits.detach().sigmoid()
    positive = (labels < NUM_CLASSES).double()[:, None]
    safe_labels = labels.clamp(max=NUM_CLASSES - 1)
    expected = (eta * cost_weight * class_weight * cost_rows(
        safe_labels, matrix) * sig * (1 - sig)) * positive
    torch.testing.assert_close(logits.grad, expected)
    assert (logits.grad >= 0).all()
    assert (logits.grad[labels == NUM_CLASSES] == 0).all()
    # The true class's own column is never pushed (C[t, t] = 0).
    rows = torch.arange(len(labels))[labels < NUM_CLASSES]
    assert (logits.grad[rows, labels[labels < NUM_CLASSES]] == 0).all()


def test_softmax_closed_form_gradient():
    # d/dz_k sum_c p_c v_c = p_k (v_k - sum_c p_c v_c), v = C[t] (+ 0 bg).
    logits, labels, _ = sample_inputs(False, dtype=torch.float64)
    logits.requires_grad_(True)
    loss = make_loss(False, reduction='sum', eta=0.5, cost_weight=3.0)
    loss.loss_parts(logits, labels)['loss_cls_cost'].backward()
    matrix = resolve_cost_matrix(**COST_SPEC)
    values = torch.zeros(len(labels), NUM_CLASSES + 1, dtype=torch.float64)
    positive = labels < NUM_CLASSES
    values[positive, :NUM_CLASSES] = cost_rows(labels[positive], matrix)
    probs = logits.detach().softmax(dim=1)
    expected = 0.5 * 3.0 * probs * (
        values - (probs * values).sum(dim=1, keepdim=True))
    torch.testing.assert_close(logits.grad, expected)


@pytest.mark.parametrize('use_sigmoid', [True, False])
@pytest.mark.parametrize('cost_reduction', ['mean', 'sum'])
def test_gradcheck_float64(use_sigmoid, cost_reduction):
    logits, labels, weight = sample_inputs(
        use_sigmoid, num_samples=8, dtype=torch.float64)
    logits.requires_grad_(True)
    extra = (dict(class_weight=[1.0, 2.0, 0.5, 1.5, 1.0, 3.0],
                  label_smoothing=0.1) if use_sigmoid else dict(
                      missed_costs=0.3, false_alarm_costs=0.2))
    loss = make_loss(use_sigmoid, cost_weight=1.5, eta=0.7,
                     cost_reduction=cost_reduction, **extra)
    if use_sigmoid:
        # mmdet's binary_cross_entropy casts targets with label.float(), so
        # the BCE part is float32 even for float64 logits (kept for
        # bit-exactness): check the cost term, which stays float64.
        def function(z):
            return loss.loss_parts(z, labels,
                                   weight.double())['loss_cls_cost']
    else:
        def function(z):
            return loss(z, labels, weight.double())
    assert function(logits).dtype == torch.float64
    assert torch.autograd.gradcheck(function, (logits, ))


@pytest.mark.parametrize('use_sigmoid', [True, False])
@pytest.mark.parametrize('reduction', ['none', 'mean', 'sum'])
def test_extreme_logits_are_finite(use_sigmoid, reduction):
    logits, labels, _ = sample_inputs(use_sigmoid)
    logits = (torch.sign(logits) * 1e4).requires_grad_(True)
    loss = make_loss(use_sigmoid, reduction=reduction)
    value = loss(logits, labels)
    assert torch.isfinite(value).all()
    value.sum().backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize('use_sigmoid', [True, False])
def test_no_positives_gives_zero_cost(use_sigmoid):
    logits, _, weight = sample_inputs(use_sigmoid)
    logits.requires_grad_(True)
    background = torch.full((logits.shape[0], ), NUM_CLASSES)
    loss = make_loss(use_sigmoid, cost_weight=2.0)
    parts = loss.loss_parts(logits, background, weight)
    assert parts['loss_cls_cost'].item() == 0.0
    total = loss(logits, background, weight)
    reference = CrossEntropyLoss(use_sigmoid=use_sigmoid)
    assert torch.equal(total, reference(logits, background, weight))
    total.backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize('use_sigmoid', [True, False])
@pytest.mark.parametrize('reduction', ['mean', 'sum'])
def test_empty_input_is_zero_with_graph(use_sigmoid, reduction):
    columns = NUM_CLASSES if use_sigmoid else NUM_CLASSES + 1
    logits = torch.zeros(0, columns, requires_grad=True)
    loss = make_loss(use_sigmoid, reduction=reduction)
    value = loss(logits, torch.zeros(0, dtype=torch.long), avg_factor=None)
    assert value.item() == 0.0 and value.requires_grad
    value.backward()
    assert logits.grad.shape == logits.shape
    none = loss(logits, torch.zeros(0, dtype=torch.long),
                reduction_override='none')
    assert none.shape == ((0, columns) if use_sigmoid else (0, ))


@pytest.mark.parametrize('use_sigmoid', [True, False])
def test_background_samples_get_no_cost(use_sigmoid):
    logits, labels, _ = sample_inputs(use_sigmoid)
    loss = make_loss(use_sigmoid, reduction='sum')
    cost = loss.loss_parts(logits, labels)['loss_cls_cost']
    changed = logits.clone()
    changed[labels == NUM_CLASSES] += 5.0
    assert torch.equal(loss.loss_parts(changed, labels)['loss_cls_cost'],
                       cost)
    per_sample = loss(logits, labels, reduction_override='none')
    reference = CrossEntropyLoss(use_sigmoid=use_sigmoid, reduction='none')
    background = labels == NUM_CLASSES
    assert torch.equal(per_sample[background],
                       reference(logits, labels)[background])


@pytest.mark.parametrize('use_sigmoid, shape', [(True, (12, NUM_CLASSES)),
                                                (False, (12, ))])
def test_reduction_none_shapes_and_sums(use_sigmoid, shape):
    logits, labels, weight = sample_inputs(use_sigmoid)
    loss = make_loss(use_sigmoid)
    per_element = loss(logits, labels, weight, reduction_override='none')
    assert per_element.shape == shape
    parts = loss.loss_parts(logits, labels, weight, reduction_override='none')
    assert parts['loss_cls_cost'].shape == shape
    torch.testing.assert_close(
        per_element.sum(),
        loss(logits, labels, weight, reduction_override='sum'))


@pytest.mark.parametrize('use_sigmoid', [True, False])
def test_cost_reduction_sum_vs_mean(use_sigmoid):
    logits, labels, weight = sample_inputs(use_sigmoid)
    divisor = logits.shape[0] * (NUM_CLASSES if use_sigmoid else 1)
    paper = make_loss(use_sigmoid, cost_reduction='sum', eta=1e-4)
    mean = make_loss(use_sigmoid, cost_reduction='mean', eta=1e-4)
    paper_cost = paper.loss_parts(logits, labels, weight)['loss_cls_cost']
    mean_cost = mean.loss_parts(logits, labels, weight)['loss_cls_cost']
    torch.testing.assert_close(paper_cost, mean_cost * divisor)
    # With avg_factor the mean cost uses the CE's own divisor.
    mean_cost = mean.loss_parts(logits, labels, weight,
                                avg_factor=3.0)['loss_cls_cost']
    torch.testing.assert_close(paper_cost, mean_cost * 3.0)
    # CE parts are identical, only the cost normalisation differs.
    assert torch.equal(
        paper.loss_parts(logits, labels, weight)['loss_cls_ce'],
        mean.loss_parts(logits, labels, weight)['loss_cls_ce'])


def test_one_hot_and_soft_targets():
    logits, labels, weight = sample_inputs(True)
    one_hot = F.one_hot(labels, NUM_CLASSES + 1)[:, :NUM_CLASSES].float()
    loss = make_loss(True, cost_weight=1.3)
    for reduction in ('none', 'mean', 'sum'):
        torch.testing.assert_close(
            loss(logits, one_hot, weight, reduction_override=reduction),
            loss(logits, labels, weight, reduction_override=reduction),
            rtol=1e-6, atol=1e-7)
    # Soft targets: the true class is the row's argmax; a zero row is
    # background.
    soft = one_hot * 0.8
    soft[labels < NUM_CLASSES] += 0.02
    cost_soft = loss.loss_parts(logits, soft, reduction_override='sum')
    cost_hard = loss.loss_parts(logits, labels, reduction_override='sum')
    torch.testing.assert_close(cost_soft['loss_cls_cost'],
                               cost_hard['loss_cls_cost'])


def test_label_smoothing_matches_yolov5_targets():
    logits, labels, _ = sample_inputs(True)
    positive = labels < NUM_CLASSES
    logits, labels = logits[positive], labels[positive]
    eps = 0.2
    loss = make_loss(True, cost_weight=0.0, label_smoothing=eps)
    one_hot = F.one_hot(labels, NUM_CLASSES).float()
    targets = torch.where(one_hot > 0, torch.tensor(1 - eps / 2),
                          torch.tensor(eps / 2))
    expected = F.binary_cross_entropy_with_logits(logits, targets)
    torch.testing.assert_close(loss(logits, labels), expected)
    # The cost term uses the hard class, unaffected by smoothing.
    plain = make_loss(True).loss_parts(logits, labels)['loss_cls_cost']
    smoothed = make_loss(
        True, label_smoothing=eps).loss_parts(logits, labels)['loss_cls_cost']
    assert torch.equal(plain, smoothed)


def test_sigmoid_class_weight_scales_each_column():
    logits, labels, _ = sample_inputs(True)
    class_weight = [1.0, 2.0, 0.5, 1.5, 1.0, 3.0]
    loss = make_loss(True, cost_weight=0.0, class_weight=class_weight,
                     reduction='none')
    one_hot = F.one_hot(labels, NUM_CLASSES + 1)[:, :NUM_CLASSES].float()
    expected = F.binary_cross_entropy_with_logits(
        logits, one_hot, reduction='none') * torch.tensor(class_weight)
    torch.testing.assert_close(loss(logits, labels), expected)


def test_softmax_class_weight_length_and_ce():
    with pytest.raises(ValueError, match='num_classes \\+ 1'):
        make_loss(False, class_weight=[1.0] * NUM_CLASSES)
    class_weight = [1.0, 2.0, 0.5, 1.5, 1.0, 3.0, 0.2]
    logits, labels, weight = sample_inputs(False)
    ours = make_loss(False, cost_weight=0.0, class_weight=class_weight)
    reference = CrossEntropyLoss(use_sigmoid=False,
                                 class_weight=class_weight)
    assert torch.equal(ours(logits, labels, weight),
                       reference(logits, labels, weight))


@pytest.mark.parametrize('use_sigmoid', [True, False])
def test_half_precision_inputs_compute_in_float32(use_sigmoid):
    logits, labels, weight = sample_inputs(use_sigmoid)
    loss = make_loss(use_sigmoid)
    for dtype in (torch.float16, torch.bfloat16):
        low = logits.to(dtype).requires_grad_(True)
        value = loss(low, labels, weight.to(dtype))
        assert value.dtype == torch.float32
        assert torch.equal(
            value, loss(low.detach().float(), labels,
                        weight.to(dtype).float()))
        value.backward()
        assert low.grad.dtype == dtype and torch.isfinite(
            low.grad.float()).all()


@pytest.mark.parametrize('use_sigmoid', [True, False])
def test_autocast_bfloat16(use_sigmoid):
    columns = NUM_CLASSES if use_sigmoid else NUM_CLASSES + 1
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, columns)
    features = torch.randn(12, 8)
    labels = torch.arange(12) % (NUM_CLASSES + 1)
    loss = make_loss(use_sigmoid, cost_weight=1.0)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = layer(features)
        assert logits.dtype == torch.bfloat16
        value = loss(logits, labels)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    reference = loss(logits.detach().float(), labels)
    assert torch.equal(value, reference)
    value.backward()
    assert torch.isfinite(layer.weight.grad).all()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match='cost_reduction'):
        make_loss(True, cost_reduction='batch')
    with pytest.raises(ValueError, match='background column'):
        make_loss(True, missed_costs=1.0)
    with pytest.raises(ValueError, match='sigmoid mode'):
        make_loss(False, label_smoothing=0.1)
    with pytest.raises(ValueError, match='no cost matrix given'):
        CostSensitiveLoss()
    loss = make_loss(True)
    with pytest.raises(ValueError, match=r'labels must lie in \[0, 6\]'):
        loss(torch.zeros(2, NUM_CLASSES), torch.tensor([0, 9]))
    with pytest.raises(ValueError, match='integer labels must have shape'):
        loss(torch.zeros(2, NUM_CLASSES), torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match='only supported with use_sigmoid'):
        make_loss(False)(torch.zeros(2, NUM_CLASSES + 1),
                         torch.zeros(2, NUM_CLASSES + 1))


def test_cost_term_is_linear_in_eta_and_cost_weight():
    logits, labels, weight = sample_inputs(True)
    base = make_loss(True, eta=1.0, cost_weight=1.0).loss_parts(
        logits, labels, weight)['loss_cls_cost']
    scaled = make_loss(True, eta=1e-4, cost_weight=3.0).loss_parts(
        logits, labels, weight)['loss_cls_cost']
    torch.testing.assert_close(scaled, base * 3e-4)


# mmdet's private _expand_onehot_labels builds the [S, C] targets and
# weights of the class-weight / label-smoothing path (the same expansion its
# binary_cross_entropy applies itself); these cases pin its behaviour so an
# mmdet upgrade that changes it fails here.
@pytest.mark.parametrize('weight, ignore_index, labels, targets, weights', [
    (None, -100, [0, 2, 3, -100, 1],
     [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0], [0, 1, 0]],
     [1, 1, 1, 0, 1]),
    ([0.5, 1.0, 2.0, 3.0, 0.25], -100, [0, 2, 3, -100, 1],
     [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0], [0, 1, 0]],
     [0.5, 1.0, 2.0, 0.0, 0.25]),
    ([2.0, 3.0, 4.0], 2, [0, 2, 1],
     [[1, 0, 0], [0, 0, 0], [0, 1, 0]], [2.0, 0.0, 4.0]),
    (None, 255, [-1, 255, 0], [[0, 0, 0], [0, 0, 0], [1, 0, 0]],
     [0, 0, 1]),
])
def test_mmdet_expand_onehot_labels_is_pinned(weight, ignore_index, labels,
                                               targets, weights):
    from mmdet.models.losses.cross_entropy_loss import _expand_onehot_labels
    labels = torch.tensor(labels)
    given = None if weight is None else torch.tensor(weight)
    bin_labels, bin_weights, valid = _expand_onehot_labels(
        labels, given, 3, ignore_index)
    assert bin_labels.dtype == torch.int64
    assert torch.equal(bin_labels, torch.tensor(targets))
    row = torch.tensor(weights, dtype=torch.float32)[:, None]
    assert bin_weights.dtype == torch.float32
    assert torch.equal(bin_weights, row.expand(-1, 3))
    valid_rows = torch.tensor([float(w != 0) for w in weights])[:, None]
    assert torch.equal(valid, valid_rows.expand(-1, 3))
    if weight is not None:  # the caller's weight is not changed in place
        assert torch.equal(given, torch.tensor(weight))
