"""YOLOv5EMAHook.foreach_update gives mmdet ExpMomentumEMA's averages bit for
bit (parameters and BN buffers), and steps aside where it must."""
from types import SimpleNamespace

import pytest
import torch
from mmdet.models.layers.ema import ExpMomentumEMA
from torch import nn

from csdet.engine.hooks import YOLOv5EMAHook

EMA = dict(ema_type='mmdet.ExpMomentumEMA', momentum=0.0001, gamma=2000,
           update_buffers=True)


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.SiLU(),
                         nn.Conv2d(8, 4, 1))


def runner_for(model):
    # a plain optimizer wrapper: every iteration is an optimizer step
    return SimpleNamespace(model=model, optim_wrapper=object(), iter=0,
                           epoch=0)


def train_a_little(model, generator):
    """Change the weights and the BN statistics, as a training step does."""
    model.train()
    model(torch.randn(2, 3, 8, 8, generator=generator))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator),
                           alpha=0.1)


@pytest.mark.parametrize('updates', [1, 2, 7])
def test_same_averages_as_mmdet_update_parameters(updates):
    model = small_model()
    hook = YOLOv5EMAHook(**EMA)
    runner = runner_for(model)
    hook.before_run(runner)
    reference = ExpMomentumEMA(model, momentum=0.0001, gamma=2000,
                               update_buffers=True)
    calls = []
    per_tensor = hook.ema_model.update_parameters
    hook.ema_model.update_parameters = lambda m: calls.append(per_tensor(m))
    generator = torch.Generator().manual_seed(1)
    for iteration in range(updates):
        train_a_little(model, generator)
        runner.iter = iteration
        hook.after_train_iter(runner, iteration)
        reference.update_parameters(model)
    assert int(hook.ema_model.steps) == int(reference.steps) == updates
    assert len(calls) == 1  # the first copy; then foreach_update
    got = hook.ema_model.module.state_dict()
    expected = reference.module.state_dict()
    for key, value in expected.items():
        assert torch.equal(got[key], value), key
    # the average moved away from the first copy but not onto the model
    if updates > 1:
        weight = got['0.weight']
        assert not torch.equal(weight, model.state_dict()['0.weight'])


def test_first_update_copies_and_other_settings_fall_back():
    model = small_model()
    hook = YOLOv5EMAHook(**EMA)
    hook.before_run(runner_for(model))
    assert not hook.foreach_update()  # steps == 0: update_parameters copies
    hook.ema_model.update_parameters(model)
    assert hook.foreach_update()
    for settings in (dict(EMA, update_buffers=False),
                     dict(EMA, ema_type='ExponentialMovingAverage',
                          gamma=None)):
        settings = {k: v for k, v in settings.items() if v is not None}
        other = YOLOv5EMAHook(**settings)
        other.before_run(runner_for(model))
        other.ema_model.update_parameters(model)
        assert not other.foreach_update()
