"""--amp keeps each wrapper's semantics (AmpYOLOv5OptimWrapper), on CPU.

mmengine's AmpOptimWrapper refuses to build without a GPU and uses the CUDA
GradScaler. The ``cpu_amp`` fixture lifts the availability check and gives
the wrapper torch's CPU GradScaler, so the scaler really scales (a
power-of-two scale: scaling and unscaling are exact in float32). The
gradient / step comparisons run the forward pass outside ``optim_context``:
CPU autocast computes in bfloat16, which would change the numbers being
compared; that ``optim_context`` does enable autocast is tested separately.
"""
import functools
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper

from csdet.engine.hooks import YOLOv5ParamSchedulerHook
from csdet.engine.optimizers import (AmpYOLOv5OptimWrapper,
                                     YOLOv5OptimizerConstructor,
                                     YOLOv5OptimWrapper,
                                     amp_optim_wrapper_type)
from csdet.engine.optimizers.yolov5_optim_constructor import optimizer_stepped

INIT_SCALE = 2.0**12


@pytest.fixture
def cpu_amp(monkeypatch):
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    monkeypatch.setattr(amp_optimizer_wrapper, 'GradScaler',
                        functools.partial(torch.amp.GradScaler, 'cpu'))


class TinyNet(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.head(torch.relu(self.bn(self.conv(x))))


def _build(wrapper_type, batch_size_per_gpu=16, **extra):
    torch.manual_seed(0)
    model = TinyNet()
    constructor = YOLOv5OptimizerConstructor(
        dict(type=wrapper_type,
             optimizer=dict(type='SGD', lr=0.01, momentum=0.937,
                            weight_decay=5e-4, nesterov=True),
             clip_grad=dict(max_norm=10.0), **extra),
        dict(batch_size_per_gpu=batch_size_per_gpu))
    return model, constructor(model)


@pytest.mark.parametrize('name, expected', [
    ('OptimWrapper', 'AmpOptimWrapper'),
    ('YOLOv5OptimWrapper', 'AmpYOLOv5OptimWrapper'),
    ('AmpOptimWrapper', 'AmpOptimWrapper'),
    ('AmpYOLOv5OptimWrapper', 'AmpYOLOv5OptimWrapper'),
    ('mmengine.OptimWrapper', 'mmengine.AmpOptimWrapper'),
    ('mmdet.YOLOv5OptimWrapper', 'mmdet.AmpYOLOv5OptimWrapper'),
])
def test_amp_type_by_name(name, expected):
    assert amp_optim_wrapper_type(name) == expected


def test_amp_type_by_class():
    assert amp_optim_wrapper_type(OptimWrapper) is AmpOptimWrapper
    assert amp_optim_wrapper_type(YOLOv5OptimWrapper) is \
        AmpYOLOv5OptimWrapper


@pytest.mark.parametrize('name', ['ApexOptimWrapper', 'MyWrapper', None, ''])
def test_amp_type_refuses_unknown_or_missing(name):
    with pytest.raises(ValueError, match='--amp'):
        amp_optim_wrapper_type(name)


def test_amp_wrapper_is_built_by_the_yolov5_constructor(cpu_amp):
    _, wrapper = _build('AmpYOLOv5OptimWrapper', loss_scale='dynamic')
    assert isinstance(wrapper, AmpYOLOv5OptimWrapper)
    assert isinstance(wrapper, YOLOv5OptimWrapper)
    assert isinstance(wrapper, AmpOptimWrapper)
    assert wrapper.accumulate == 4  # nominal batch 64 at batch 16
    assert wrapper.scale_loss(torch.tensor(3.0)) == 3.0  # summed, not /4
    assert 'loss_scaler' in wrapper.state_dict()


def test_amp_wrapper_needs_a_gpu_without_the_patch():
    if torch.cuda.is_available():
        pytest.skip('a GPU is present')
    with pytest.raises(AssertionError, match='gpu'):
        _build('AmpYOLOv5OptimWrapper')


class _Loader(list):

    def __init__(self, num_iters, batch_size):
        super().__init__(range(num_iters))
        self.batch_size = batch_size


def test_scheduler_hook_ramps_the_amp_wrapper(cpu_amp):
    model, wrapper = _build('AmpYOLOv5OptimWrapper')
    runner = SimpleNamespace(
        model=model, optim_wrapper=wrapper, iter=0, epoch=0, max_epochs=50,
        train_dataloader=_Loader(10, 16))
    hook = YOLOv5ParamSchedulerHook()
    hook.before_train(runner)
    accumulates = []
    for ni in (0, 50, 75, 100, 101):
        runner.iter, runner.epoch = ni, ni // 10
        hook.before_train_iter(runner, batch_idx=ni % 10)
        accumulates.append(wrapper.accumulate)
    # Reference warmup ramp from 1 to 64 / 16 over 100 iterations.
    assert accumulates == [1, 2, 3, 4, 4]


def test_optim_context_enables_autocast(cpu_amp):
    model, wrapper = _build('AmpYOLOv5OptimWrapper')
    with wrapper.optim_context(model):
        out = model.head(torch.ones(1, 4, 2, 2))
        assert torch.is_autocast_enabled('cpu')
    assert out.dtype == torch.bfloat16
    _, plain = _build('YOLOv5OptimWrapper')
    with plain.optim_context(model):
        assert not torch.is_autocast_enabled('cpu')


def test_gradients_and_steps_equal_the_plain_wrapper(cpu_amp):
    plain_model, plain = _build('YOLOv5OptimWrapper')
    amp_model, amp = _build('AmpYOLOv5OptimWrapper',
                            loss_scale=dict(init_scale=INIT_SCALE))
    assert amp.loss_scaler.is_enabled()
    torch.manual_seed(1)
    inputs = [torch.randn(2, 3, 6, 6) for _ in range(7)]
    # A changing count (as in warmup): steps after backward 1, 2, 4, 7.
    accumulates = (1, 1, 2, 2, 3, 3, 3)
    stepped = []
    for x, accumulate in zip(inputs, accumulates):
        before = [p.detach().clone() for p in plain_model.parameters()]
        for model, wrapper in ((plain_model, plain), (amp_model, amp)):
            wrapper.set_accumulate(accumulate)
            loss = model(x).square().sum() * 5.0
            loss = wrapper.scale_loss(loss)
            wrapper.backward(loss)
        # The scaler scaled the AMP gradients by exactly INIT_SCALE.
        for p_plain, p_amp in zip(plain_model.parameters(),
                                  amp_model.parameters()):
            assert torch.equal(p_amp.grad, p_plain.grad * INIT_SCALE)
        for wrapper in (plain, amp):
            if wrapper.should_update():
                wrapper.step()
                wrapper.zero_grad()
        stepped.append(optimizer_stepped(plain))
        assert optimizer_stepped(amp) == stepped[-1]
        for p_before, p_plain, p_amp in zip(before,
                                            plain_model.parameters(),
                                            amp_model.parameters()):
            torch.testing.assert_close(p_amp - p_before, p_plain - p_before,
                                       rtol=0, atol=1e-7)
    assert stepped == [True, True, False, True, False, False, True]
    # The steps compared above really moved the weights.
    initial = _build('YOLOv5OptimWrapper')[0].parameters()
    moved = [(p - q).abs().max().item()
             for p, q in zip(plain_model.parameters(), initial)]
    assert max(moved) > 1e-3
    assert amp.loss_scaler.get_scale() == INIT_SCALE  # no inf seen


def test_update_params_matches_the_plain_wrapper(cpu_amp):
    plain_model, plain = _build('YOLOv5OptimWrapper', batch_size_per_gpu=32)
    amp_model, amp = _build('AmpYOLOv5OptimWrapper', batch_size_per_gpu=32,
                            loss_scale=dict(init_scale=INIT_SCALE))
    assert plain.accumulate == amp.accumulate == 2
    torch.manual_seed(2)
    for _ in range(4):
        x = torch.randn(2, 3, 6, 6)
        plain.update_params(plain_model(x).square().sum())
        amp.update_params(amp_model(x).square().sum())
    for p_plain, p_amp in zip(plain_model.parameters(),
                              amp_model.parameters()):
        torch.testing.assert_close(p_amp, p_plain, rtol=0, atol=1e-7)
    assert amp.last_step_count == plain.last_step_count == 4


def test_inf_gradient_skips_the_step_but_counts_it(cpu_amp):
    model, amp = _build('AmpYOLOv5OptimWrapper',
                        loss_scale=dict(init_scale=INIT_SCALE))
    amp.set_accumulate(1)
    before = [p.detach().clone() for p in model.parameters()]
    loss = model(torch.ones(1, 3, 6, 6)).sum() * float('inf')
    amp.update_params(loss)
    # GradScaler skips the optimizer step and halves the scale; the
    # accumulation window still restarts, as the reference's last_opt_step.
    for p_before, p in zip(before, model.parameters()):
        assert torch.equal(p_before, p)
    assert amp.loss_scaler.get_scale() == INIT_SCALE / 2
    assert optimizer_stepped(amp)
