"""YOLOv5 optimizer groups, nominal batch and accumulation (train.py v7.0)."""
import pytest
import torch
import torch.nn as nn

from csdet.engine.optimizers import (YOLOv5OptimizerConstructor,
                                     YOLOv5OptimWrapper,
                                     nominal_batch_settings,
                                     set_nominal_batch)
from csdet.engine.optimizers.yolov5_optim_constructor import optimizer_stepped


class TinyNet(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Conv2d(4, 2, 1)  # weight + bias
        self.fc = nn.Linear(2, 2)  # weight + bias
        self.gn = nn.GroupNorm(2, 4)  # weight + bias (a 'Norm' layer)


def _build(batch_size_per_gpu=16, **wrapper):
    cfg = dict(
        optimizer=dict(type='SGD', lr=0.01, momentum=0.937,
                       weight_decay=5e-4, nesterov=True),
        clip_grad=dict(max_norm=10.0), **wrapper)
    constructor = YOLOv5OptimizerConstructor(
        cfg, dict(batch_size_per_gpu=batch_size_per_gpu))
    model = TinyNet()
    return model, constructor(model)


def test_three_groups_in_reference_order():
    model, wrapper = _build()
    groups = wrapper.optimizer.param_groups
    assert [g['group_name'] for g in groups] == ['bias', 'weight',
                                                 'norm_weight']
    ids = [{id(p) for p in g['params']} for g in groups]
    assert ids[0] == {id(model.bn.bias), id(model.head.bias),
                      id(model.fc.bias), id(model.gn.bias)}
    assert ids[1] == {id(model.conv.weight), id(model.head.weight),
                      id(model.fc.weight)}
    assert ids[2] == {id(model.bn.weight), id(model.gn.weight)}
    assert sum(len(g['params']) for g in groups) == len(
        list(model.parameters()))
    for group in groups:
        assert group['momentum'] == 0.937 and group['nesterov']
        assert group['lr'] == 0.01
    assert isinstance(wrapper, YOLOv5OptimWrapper)
    assert wrapper.clip_grad_kwargs == dict(max_norm=10.0)


@pytest.mark.parametrize('batch, accumulate, decay', [
    (16, 4, 5e-4),                 # 16 * 4 / 64 = 1
    (230, 1, 5e-4 * 230 / 64),     # the paper's batch
    (64, 1, 5e-4),
    (24, 3, 5e-4 * 24 * 3 / 64),   # round(2.67) = 3 -> 1.125
    (1, 64, 5e-4),
])
def test_weight_decay_and_accumulation_from_batch(batch, accumulate, decay):
    _, wrapper = _build(batch_size_per_gpu=batch)
    decays = [g['weight_decay'] for g in wrapper.optimizer.param_groups]
    assert decays[0] == 0 and decays[2] == 0
    assert decays[1] == pytest.approx(decay, rel=1e-12)
    assert wrapper.accumulate == accumulate
    assert nominal_batch_settings(batch)[0] == accumulate


def test_set_nominal_batch_is_idempotent_and_resyncs():
    _, wrapper = _build(batch_size_per_gpu=230)
    for _ in range(2):
        assert set_nominal_batch(wrapper, 8) == 8
        assert wrapper.optimizer.param_groups[1]['weight_decay'] == \
            pytest.approx(5e-4)
    set_nominal_batch(wrapper, 128)
    assert wrapper.optimizer.param_groups[1]['weight_decay'] == \
        pytest.approx(1e-3)
    assert wrapper.accumulate == 1


def test_constructor_rejects_explicit_accumulation():
    with pytest.raises(ValueError, match='accumulative_counts'):
        YOLOv5OptimizerConstructor(
            dict(optimizer=dict(type='SGD', lr=0.01), accumulative_counts=2))
    with pytest.raises(KeyError, match='paramwise_cfg'):
        YOLOv5OptimizerConstructor(
            dict(optimizer=dict(type='SGD', lr=0.01)), dict(bias_decay=0))


def test_accumulation_sums_gradients_and_steps_every_n():
    weight = nn.Parameter(torch.zeros(1))
    wrapper = YOLOv5OptimWrapper(torch.optim.SGD([weight], lr=1.0),
                                 accumulative_counts=2)
    # d/dw (w * g) = g: gradients 1, 2 | 3, 4; steps after 2 and 4.
    history = []
    for g in (1.0, 2.0, 3.0, 4.0):
        wrapper.update_params((weight * g).sum())
        history.append(weight.item())
        assert optimizer_stepped(wrapper) == (len(history) % 2 == 0)
    # Summed, not averaged: -(1 + 2), then -(3 + 4).
    assert history == [0.0, -3.0, -3.0, -10.0]


def test_accumulation_can_change_between_iterations():
    weight = nn.Parameter(torch.zeros(1))
    wrapper = YOLOv5OptimWrapper(torch.optim.SGD([weight], lr=1.0))
    steps = []
    for i, accumulate in enumerate((1, 1, 2, 2, 3, 3, 3, 3)):
        wrapper.set_accumulate(accumulate)
        wrapper.update_params(weight.sum())
        steps.append(optimizer_stepped(wrapper))
    # ni - last_step >= accumulate: steps at 1, 2, 4, 7 (1-based counts).
    assert steps == [True, True, False, True, False, False, True, False]
    assert weight.item() == -7.0  # every backward contributed 1
