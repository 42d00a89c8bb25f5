"""YOLOv5 warmup / one-cycle schedule against hand-computed reference values."""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

from csdet.engine.hooks import YOLOv5EMAHook, YOLOv5ParamSchedulerHook
from csdet.engine.optimizers import YOLOv5OptimizerConstructor


class ToyLoader(list):
    """A 'dataloader' with a length and a batch size."""

    def __init__(self, num_iters, batch_size):
        super().__init__(range(num_iters))
        self.batch_size = batch_size


def _runner(batch_size=16, iters_per_epoch=10, max_epochs=50, lr=0.01,
            config_batch=16):
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    constructor = YOLOv5OptimizerConstructor(
        dict(optimizer=dict(type='SGD', lr=lr, momentum=0.937,
                            weight_decay=5e-4, nesterov=True)),
        dict(batch_size_per_gpu=config_batch))
    return SimpleNamespace(
        model=model, optim_wrapper=constructor(model), iter=0, epoch=0,
        max_epochs=max_epochs,
        train_dataloader=ToyLoader(iters_per_epoch, batch_size))


def _at(hook, runner, iteration, iters_per_epoch=10):
    runner.iter = iteration
    runner.epoch = iteration // iters_per_epoch
    hook.before_train_iter(runner, batch_idx=iteration % iters_per_epoch)
    groups = runner.optim_wrapper.optimizer.param_groups
    return ([g['lr'] for g in groups], [g['momentum'] for g in groups],
            runner.optim_wrapper.accumulate)


def cosine(epoch, epochs=50, lrf=0.01):
    return ((1 - math.cos(epoch * math.pi / epochs)) / 2) * (lrf - 1) + 1


def test_warmup_and_cosine_values():
    runner = _runner()
    hook = YOLOv5ParamSchedulerHook(lr_schedule='cosine')
    hook.before_train(runner)
    # 3 epochs x 10 iterations = 30 < 100: warmup is 100 iterations.
    assert hook.warmup_iters == 100

    lrs, moms, acc = _at(hook, runner, 0)
    assert lrs == pytest.approx([0.1, 0.0, 0.0])
    assert moms == pytest.approx([0.8] * 3)
    assert acc == 1

    # Iteration 50, epoch 5: halfway between the starts and the targets.
    lrs, moms, acc = _at(hook, runner, 50)
    target = 0.01 * cosine(5)
    assert lrs == pytest.approx([0.1 + 0.5 * (target - 0.1), 0.5 * target,
                                 0.5 * target])
    assert moms == pytest.approx([0.8 + 0.5 * (0.937 - 0.8)] * 3)
    assert acc == 2  # round(1 + 0.5 * (64/16 - 1)) = round(2.5) = 2

    lrs, moms, acc = _at(hook, runner, 75)
    assert acc == 3  # round(3.25)

    lrs, moms, acc = _at(hook, runner, 100)  # last warmup iteration
    assert lrs == pytest.approx([0.01 * cosine(10)] * 3)
    assert moms == pytest.approx([0.937] * 3)
    assert acc == 4

    lrs, moms, acc = _at(hook, runner, 101)
    assert lrs == pytest.approx([0.01 * cosine(10)] * 3)
    assert acc == 4

    lrs, _, _ = _at(hook, runner, 409)  # epoch 40, constant in the epoch
    assert lrs == pytest.approx([0.01 * cosine(40)] * 3)
    lrs, _, _ = _at(hook, runner, 499)  # last epoch: near lr0 * lrf
    assert lrs[1] == pytest.approx(0.01 * cosine(49))
    assert 0.01 * 0.01 < lrs[1] < 0.01 * 0.02


def test_linear_schedule_and_epoch_based_warmup():
    runner = _runner(iters_per_epoch=50, max_epochs=20)
    hook = YOLOv5ParamSchedulerHook(lr_schedule='linear')
    hook.before_train(runner)
    assert hook.warmup_iters == 150  # 3 epochs x 50 iterations
    lrs, _, _ = _at(hook, runner, 75, iters_per_epoch=50)  # epoch 1
    linear_1 = (1 - 1 / 20) * (1 - 0.01) + 0.01
    assert lrs[1] == pytest.approx(0.5 * 0.01 * linear_1)
    lrs, _, _ = _at(hook, runner, 600, iters_per_epoch=50)  # epoch 12
    assert lrs == pytest.approx([0.01 * ((1 - 12 / 20) * 0.99 + 0.01)] * 3)


def test_before_train_applies_real_batch_size():
    # Config said 230 (the paper); the loader was overridden to 16.
    runner = _runner(batch_size=16, config_batch=230)
    groups = runner.optim_wrapper.optimizer.param_groups
    assert groups[1]['weight_decay'] == pytest.approx(5e-4 * 230 / 64)
    assert runner.optim_wrapper.accumulate == 1
    YOLOv5ParamSchedulerHook().before_train(runner)
    assert groups[1]['weight_decay'] == pytest.approx(5e-4)
    assert runner.optim_wrapper.nominal_accumulate == 4
    assert [g['initial_lr'] for g in groups] == [0.01] * 3


def test_large_batch_never_accumulates():
    runner = _runner(batch_size=230, config_batch=230)
    hook = YOLOv5ParamSchedulerHook()
    hook.before_train(runner)
    for iteration in (0, 30, 99, 100, 150):
        assert _at(hook, runner, iteration)[2] == 1


def test_bad_schedule_name():
    with pytest.raises(ValueError, match='cosine'):
        YOLOv5ParamSchedulerHook(lr_schedule='step')


def test_ema_hook_updates_once_per_optimizer_step():
    runner = _runner(batch_size=16)
    runner.model = nn.Linear(2, 1)
    constructor = YOLOv5OptimizerConstructor(
        dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.0)),
        dict(batch_size_per_gpu=32))  # accumulate 2
    runner.optim_wrapper = constructor(runner.model)
    hook = YOLOv5EMAHook(ema_type='mmdet.ExpMomentumEMA', momentum=0.0001,
                         gamma=2000, update_buffers=True)
    hook.before_run(runner)
    for iteration in range(6):
        runner.iter = iteration
        loss = runner.model(torch.ones(1, 2)).sum()
        runner.optim_wrapper.update_params(loss)
        hook.after_train_iter(runner, iteration)
    # 6 iterations, accumulate 2 -> 3 optimizer steps -> 3 EMA updates.
    assert int(hook.ema_model.steps) == 3
