"""YOLOv5 (Ultralytics v7.0) optimizer: parameter groups and nominal batch.

Spec: docs/yolov5.md, "Training recipe". The reference (train.py and
``smart_optimizer``) does three things that mmengine's defaults do not:

1. Three parameter groups, in this order: biases (no weight decay), conv /
   linear weights (weight decay), normalisation-layer weights (no decay).
   The order matters: the warmup raises group 0 (biases) from
   ``warmup_bias_lr`` instead of 0.
2. Nominal batch 64: gradients of ``accumulate = max(round(64 / batch), 1)``
   batches are summed before a step, and the weight decay is scaled by
   ``batch * accumulate / 64``.
3. The summed gradients are NOT averaged over the accumulated batches (the
   loss is already multiplied by the batch size inside the head), so one
   step always sees about max(64, batch) images' worth of gradient.
   mmengine's ``OptimWrapper`` divides the loss by ``accumulative_counts``,
   which would shrink the step by the accumulation factor (4x at batch 16),
   and it cannot change the count during warmup, where the reference ramps
   it from 1 to 64 / batch. :class:`YOLOv5OptimWrapper` is mmengine's
   wrapper with those two behaviours changed and nothing else.
"""
from __future__ import annotations

import logging
from typing import List, Optional

import torch.nn as nn
from mmengine.dist import get_world_size
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmdet.registry import (OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS,
                            OPTIMIZERS)

NOMINAL_BATCH_SIZE = 64

# The reference's "normalization layers": every torch.nn class whose name
# holds 'Norm' (BatchNorm*, SyncBatchNorm, GroupNorm, LayerNorm, ...).
NORM_LAYER_TYPES = tuple(
    cls for name, cls in vars(nn).items()
    if 'Norm' in name and isinstance(cls, type) and issubclass(cls, nn.Module))

#: names of the three groups, in the reference's order
GROUP_NAMES = ('bias', 'weight', 'norm_weight')


def nominal_batch_settings(total_batch_size: int,
                           nominal_batch_size: int = NOMINAL_BATCH_SIZE
                           ) -> tuple:
    """(accumulate, weight-decay scale) for a total batch size.

    accumulate = max(round(nbs / batch), 1) (Python rounding, as the
    reference); scale = batch * accumulate / nbs. Examples with nbs 64:
    batch 16 -> (4, 1.0); batch 230 -> (1, 3.59375); batch 64 -> (1, 1.0).
    """
    if int(total_batch_size) < 1:
        raise ValueError(f'total batch size must be >= 1, got '
                         f'{total_batch_size}')
    accumulate = max(round(nominal_batch_size / total_batch_size), 1)
    return accumulate, total_batch_size * accumulate / nominal_batch_size


def set_nominal_batch(optim_wrapper: OptimWrapper,
                      total_batch_size: int,
                      nominal_batch_size: int = NOMINAL_BATCH_SIZE) -> int:
    """Apply the nominal-batch rule to a built optimizer wrapper.

    Sets the wrapper's accumulation count and every group's
    ``weight_decay = base_weight_decay * batch * accumulate / nbs`` (groups
    without ``base_weight_decay`` are left alone). Idempotent, so it can be
    re-applied when the real batch size is known (the scheduler hook does
    this before training, also after a resume).

    Returns:
        int: the accumulation count.
    """
    accumulate, decay_scale = nominal_batch_settings(total_batch_size,
                                                     nominal_batch_size)
    for group in optim_wrapper.optimizer.param_groups:
        if 'base_weight_decay' in group:
            group['weight_decay'] = group['base_weight_decay'] * decay_scale
    optim_wrapper._accumulative_counts = accumulate
    optim_wrapper.total_batch_size = int(total_batch_size)
    optim_wrapper.nominal_batch_size = int(nominal_batch_size)
    optim_wrapper.nominal_accumulate = accumulate
    return accumulate


def yolov5_param_groups(model: nn.Module) -> List[list]:
    """Split parameters as the reference's ``smart_optimizer``.

    Returns three lists, in :data:`GROUP_NAMES` order: parameters named
    ``bias`` (any module), ``weight`` of normalisation layers, and all
    others (conv / linear weights). Shared parameters are listed once.
    """
    biases, weights, norm_weights = [], [], []
    seen = set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            if name == 'bias':
                biases.append(param)
            elif name == 'weight' and isinstance(module, NORM_LAYER_TYPES):
                norm_weights.append(param)
            else:
                weights.append(param)
    return [biases, weights, norm_weights]


@OPTIM_WRAPPERS.register_module()
class YOLOv5OptimWrapper(OptimWrapper):
    """mmengine ``OptimWrapper`` with the reference's gradient accumulation.

    Differences from the parent, both from Ultralytics v7.0 train.py:

    - ``scale_loss`` returns the loss unchanged: accumulated gradients are
      summed, not averaged.
    - A step happens when ``backward`` calls since the last step reach
      ``accumulate`` (``ni - last_opt_step >= accumulate``), and
      ``accumulate`` may change between iterations
      (:meth:`set_accumulate`, used by the warmup ramp). Gradients still
      pending at the end of training are dropped, as in the reference.

    Args: as ``OptimWrapper`` (``optimizer``, ``accumulative_counts``,
    ``clip_grad``); :class:`YOLOv5OptimizerConstructor` sets the count from
    the batch size.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._last_step_count = 0

    @property
    def accumulate(self) -> int:
        return self._accumulative_counts

    @property
    def last_step_count(self) -> int:
        """Value of the backward counter at the latest optimizer step."""
        return self._last_step_count

    def set_accumulate(self, accumulate: int) -> None:
        self._accumulative_counts = max(int(accumulate), 1)

    def scale_loss(self, loss):
        return loss

    def should_update(self) -> bool:
        return (self._inner_count - self._last_step_count >=
                self._accumulative_counts)

    def should_sync(self) -> bool:
        return (self._inner_count + 1 - self._last_step_count >=
                self._accumulative_counts)

    def step(self, **kwargs) -> None:
        super().step(**kwargs)
        self._last_step_count = self._inner_count

    def initialize_count_status(self, model: nn.Module, init_counts: int,
                                max_counts: int) -> None:
        self._inner_count = init_counts
        self._max_counts = max_counts
        self._last_step_count = init_counts


def optimizer_stepped(optim_wrapper) -> bool:
    """Whether the latest iteration ended with an optimizer step.

    True for any wrapper other than :class:`YOLOv5OptimWrapper` (mmengine's
    accumulation is not tracked here).
    """
    if isinstance(optim_wrapper, YOLOv5OptimWrapper):
        return optim_wrapper.last_step_count == optim_wrapper._inner_count
    return True


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class YOLOv5OptimizerConstructor:
    """Builds the reference's three-group optimizer and its wrapper.

    Groups (order kept, each tagged with ``group_name`` and
    ``base_weight_decay``): 0 ``'bias'`` every bias, no weight decay;
    1 ``'weight'`` conv / linear (all other) weights, weight decay;
    2 ``'norm_weight'`` normalisation-layer weights, no weight decay.
    The decay group's weight decay is ``optimizer.weight_decay * batch *
    accumulate / nominal_batch_size`` with ``accumulate = max(round(
    nominal_batch_size / batch), 1)`` and batch = ``batch_size_per_gpu`` x
    world size; the wrapper gets ``accumulate`` as its accumulation count.
    The optimizer's own ``momentum`` / ``nesterov`` / ``lr`` come from
    ``optimizer`` (YOLOv5: SGD, momentum 0.937, nesterov=True).

    Config::

        optim_wrapper = dict(
            type='YOLOv5OptimWrapper',            # default
            optimizer=dict(type='SGD', lr=0.01, momentum=0.937,
                           weight_decay=5e-4, nesterov=True),
            clip_grad=dict(max_norm=10.0),
            constructor='YOLOv5OptimizerConstructor',
            paramwise_cfg=dict(batch_size_per_gpu=16))

    Args:
        optim_wrapper_cfg (dict): wrapper config with ``optimizer``. Must
            not set ``accumulative_counts`` (derived from the batch size).
        paramwise_cfg (dict, optional): ``batch_size_per_gpu`` (int; None =
            assume the nominal batch until ``YOLOv5ParamSchedulerHook``
            applies the real one, which it always does before training) and
            ``nominal_batch_size`` (64).
    """

    def __init__(self,
                 optim_wrapper_cfg: dict,
                 paramwise_cfg: Optional[dict] = None) -> None:
        if 'optimizer' not in optim_wrapper_cfg:
            raise KeyError('optim_wrapper needs an "optimizer" entry, e.g. '
                           "dict(type='SGD', lr=0.01, momentum=0.937, "
                           'weight_decay=5e-4, nesterov=True)')
        if 'accumulative_counts' in optim_wrapper_cfg:
            raise ValueError(
                'YOLOv5OptimizerConstructor sets accumulative_counts from the '
                'batch size (max(round(64 / batch), 1)); remove it from '
                'optim_wrapper and set paramwise_cfg.batch_size_per_gpu')
        paramwise_cfg = dict(paramwise_cfg or {})
        unknown = set(paramwise_cfg) - {'batch_size_per_gpu',
                                        'nominal_batch_size'}
        if unknown:
            raise KeyError(f'YOLOv5OptimizerConstructor: unknown paramwise_cfg '
                           f'keys {sorted(unknown)}; allowed: '
                           "batch_size_per_gpu, nominal_batch_size")
        self.optim_wrapper_cfg = dict(optim_wrapper_cfg)
        self.optimizer_cfg = dict(self.optim_wrapper_cfg.pop('optimizer'))
        self.batch_size_per_gpu = paramwise_cfg.get('batch_size_per_gpu')
        self.nominal_batch_size = int(
            paramwise_cfg.get('nominal_batch_size', NOMINAL_BATCH_SIZE))

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):
            model = model.module
        optimizer_cfg = dict(self.optimizer_cfg)
        weight_decay = float(optimizer_cfg.pop('weight_decay', 0.0))
        groups = []
        for name, params in zip(GROUP_NAMES, yolov5_param_groups(model)):
            base_decay = weight_decay if name == 'weight' else 0.0
            groups.append(
                dict(params=params, group_name=name,
                     weight_decay=base_decay, base_weight_decay=base_decay))
        optimizer_cfg['params'] = groups
        optimizer = OPTIMIZERS.build(optimizer_cfg)

        wrapper_cfg = dict(self.optim_wrapper_cfg)
        wrapper_cfg.setdefault('type', 'YOLOv5OptimWrapper')
        optim_wrapper = OPTIM_WRAPPERS.build(
            wrapper_cfg, default_args=dict(optimizer=optimizer))
        if not isinstance(optim_wrapper, YOLOv5OptimWrapper):
            print_log(
                f'{type(optim_wrapper).__name__} averages accumulated '
                'gradients; the YOLOv5 reference sums them (use '
                "type='YOLOv5OptimWrapper' for the reference's step size)",
                logger='current', level=logging.WARNING)
        if self.batch_size_per_gpu is None:
            total_batch_size = self.nominal_batch_size
        else:
            total_batch_size = int(self.batch_size_per_gpu) * get_world_size()
        set_nominal_batch(optim_wrapper, total_batch_size,
                          self.nominal_batch_size)
        return optim_wrapper
