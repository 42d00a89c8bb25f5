"""YOLOv5 (Ultralytics v7.0) warmup + one-cycle learning-rate schedule.

Why a hook and not mmengine parameter schedulers: the reference's warmup
interpolates each group from a different starting point (the bias group
from ``warmup_bias_lr`` = 0.1 DOWN to its target, the others from 0 UP), and
the target itself is the epoch's scheduled value lr0 * lf(epoch). mmengine's
``LinearLR`` applies one start factor to every group (a multiple of each
group's own lr), so it cannot start the bias group at an absolute 0.1, and
it cannot ramp the gradient-accumulation count the reference ramps during
warmup either. This hook sets lr, momentum and accumulation itself, from
the reference formulas; no ``param_scheduler`` is needed in the config.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmdet.registry import HOOKS

from csdet.engine.optimizers.yolov5_optim_constructor import (
    NOMINAL_BATCH_SIZE, YOLOv5OptimWrapper, set_nominal_batch)


def cosine_one_cycle(epochs: int, final_factor: float) -> Callable:
    """lf(x) = ((1 - cos(x * pi / epochs)) / 2) * (lrf - 1) + 1."""
    return lambda x: ((1 - math.cos(x * math.pi / epochs)) / 2 *
                      (final_factor - 1) + 1)


def linear_decay(epochs: int, final_factor: float) -> Callable:
    """lf(x) = (1 - x / epochs) * (1 - lrf) + lrf."""
    return lambda x: (1 - x / epochs) * (1.0 - final_factor) + final_factor


@HOOKS.register_module()
class YOLOv5ParamSchedulerHook(Hook):
    """Reference warmup, then a per-epoch cosine or linear lr schedule.

    Before every iteration sets each group's lr, momentum and the gradient
    accumulation count: linear warmup over ``nw = max(round(warmup_epochs *
    iters_per_epoch), warmup_min_iters)`` iterations (bias group from
    ``warmup_bias_lr``, others from 0; momentum from ``warmup_momentum``;
    accumulation from 1 to ``nbs / batch``), then ``lr = lr0 * lf(epoch)``.
    Before training it re-applies the nominal-batch rule with the real total
    batch (:func:`csdet.engine.optimizers.set_nominal_batch`). Formulas and
    reasoning: docs/yolov5.md, "Batch size ..." and "Warmup and schedule".

    Args:
        lr_schedule (str): ``'cosine'`` (the paper's) or ``'linear'``.
        final_lr_factor (float): lrf (0.01), the last epoch's lr is lr0 * lrf.
        warmup_epochs (float): hyp ``warmup_epochs`` (3.0).
        warmup_min_iters (int): the reference's minimum of 100 iterations.
        warmup_bias_lr (float): hyp ``warmup_bias_lr`` (0.1).
        warmup_momentum (float): hyp ``warmup_momentum`` (0.8).
        momentum (float, optional): momentum after warmup; None = the
            optimizer's configured momentum (0.937).
        nominal_batch_size (int, optional): nbs; None = the value the
            optimizer constructor used (``paramwise_cfg``, 64 unless set).
        sync_nominal_batch (bool): apply the nominal-batch rule before
            training (True).
    """

    priority = 'HIGHEST'  # lr is set before RuntimeInfoHook logs it

    def __init__(self,
                 lr_schedule: str = 'cosine',
                 final_lr_factor: float = 0.01,
                 warmup_epochs: float = 3.0,
                 warmup_min_iters: int = 100,
                 warmup_bias_lr: float = 0.1,
                 warmup_momentum: float = 0.8,
                 momentum: Optional[float] = None,
                 nominal_batch_size: Optional[int] = None,
                 sync_nominal_batch: bool = True) -> None:
        if lr_schedule not in ('cosine', 'linear'):
            raise ValueError(f"lr_schedule={lr_schedule!r} must be 'cosine' "
                             "or 'linear'")
        if not 0 < final_lr_factor <= 1:
            raise ValueError(f'final_lr_factor={final_lr_factor} must be in '
                             '(0, 1]')
        if warmup_epochs < 0 or warmup_min_iters < 0:
            raise ValueError('warmup_epochs and warmup_min_iters must be >= 0')
        self.lr_schedule = lr_schedule
        self.final_lr_factor = final_lr_factor
        self.warmup_epochs = warmup_epochs
        self.warmup_min_iters = int(warmup_min_iters)
        self.warmup_bias_lr = warmup_bias_lr
        self.warmup_momentum = warmup_momentum
        self.momentum = momentum
        self.nominal_batch_size = nominal_batch_size
        self.sync_nominal_batch = sync_nominal_batch
        self.warmup_iters = 0
        self.total_batch_size = NOMINAL_BATCH_SIZE
        self.lr_factor: Callable = lambda epoch: 1.0

    # ------------------------------------------------------------ set-up
    def before_train(self, runner) -> None:
        optim_wrapper = runner.optim_wrapper
        max_epochs = runner.max_epochs
        make_factor = (cosine_one_cycle if self.lr_schedule == 'cosine' else
                       linear_decay)
        self.lr_factor = make_factor(max_epochs, self.final_lr_factor)
        self.warmup_iters = max(
            round(self.warmup_epochs * len(runner.train_dataloader)),
            self.warmup_min_iters)
        self.total_batch_size = (runner.train_dataloader.batch_size *
                                 get_world_size())
        if self.nominal_batch_size is None:
            self.nominal_batch_size = getattr(optim_wrapper,
                                              'nominal_batch_size',
                                              NOMINAL_BATCH_SIZE)
        for group in optim_wrapper.optimizer.param_groups:
            group.setdefault('initial_lr', group['lr'])
            if 'momentum' in group:
                group.setdefault('initial_momentum', group['momentum'])
        if self.sync_nominal_batch:
            accumulate = set_nominal_batch(optim_wrapper,
                                           self.total_batch_size,
                                           self.nominal_batch_size)
            decays = [round(g['weight_decay'], 8)
                      for g in optim_wrapper.optimizer.param_groups]
            print_log(
                f'YOLOv5 nominal batch {self.nominal_batch_size}: total '
                f'batch {self.total_batch_size}, accumulate {accumulate}, '
                f'group weight decays {decays}; warmup {self.warmup_iters} '
                f'iterations, {self.lr_schedule} lr to lrf='
                f'{self.final_lr_factor} over {max_epochs} epochs',
                logger='current')

    # -------------------------------------------------------- per iteration
    def _target_momentum(self, group: dict) -> float:
        if self.momentum is not None:
            return self.momentum
        return group['initial_momentum']

    def _warmup_accumulate(self, ni: int) -> int:
        target = self.nominal_batch_size / self.total_batch_size
        return max(1, int(np.interp(ni, [0, self.warmup_iters],
                                    [1, target]).round()))

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        ni, epoch = runner.iter, runner.epoch
        optim_wrapper = runner.optim_wrapper
        factor = self.lr_factor(epoch)
        in_warmup = self.warmup_iters > 0 and ni <= self.warmup_iters
        for index, group in enumerate(optim_wrapper.optimizer.param_groups):
            target_lr = group['initial_lr'] * factor
            if not in_warmup:
                group['lr'] = target_lr
                if 'momentum' in group:
                    group['momentum'] = self._target_momentum(group)
                continue
            xi = [0, self.warmup_iters]
            is_bias = group.get('group_name', 'bias' if index == 0 else '')
            start_lr = self.warmup_bias_lr if is_bias == 'bias' else 0.0
            group['lr'] = float(np.interp(ni, xi, [start_lr, target_lr]))
            if 'momentum' in group:
                group['momentum'] = float(
                    np.interp(ni, xi, [self.warmup_momentum,
                                       self._target_momentum(group)]))
        if isinstance(optim_wrapper, YOLOv5OptimWrapper):
            if in_warmup:
                optim_wrapper.set_accumulate(self._warmup_accumulate(ni))
            else:
                optim_wrapper.set_accumulate(
                    getattr(optim_wrapper, 'nominal_accumulate', 1))
