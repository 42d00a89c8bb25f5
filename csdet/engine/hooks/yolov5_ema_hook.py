"""EMA updated once per optimizer step, as the YOLOv5 reference does."""
from __future__ import annotations

import math
from typing import Optional

import torch
from mmdet.models.layers.ema import ExpMomentumEMA
from mmengine.hooks import EMAHook
from mmdet.registry import HOOKS

from csdet.engine.optimizers.yolov5_optim_constructor import optimizer_stepped


@HOOKS.register_module()
class YOLOv5EMAHook(EMAHook):
    """mmengine's ``EMAHook``, skipping iterations without an optimizer step.

    Ultralytics v7.0 calls ``ema.update(model)`` right after each
    ``optimizer.step()``, so with gradient accumulation (batch < 64) the EMA
    sees one update per step, and its warmup counter (decay
    0.9999 * (1 - exp(-updates / 2000))) counts steps. mmengine's
    ``EMAHook`` updates after every iteration, i.e. ``accumulate`` times per
    step, averaging the same weights repeatedly and running the decay ramp
    ``accumulate`` times faster. This hook only updates when the
    :class:`~csdet.engine.optimizers.YOLOv5OptimWrapper` stepped in this
    iteration (any other wrapper: every iteration, i.e. EMAHook unchanged).
    Without accumulation (batch >= 64, e.g. the paper's 230) it is exactly
    ``EMAHook``. An ``ExpMomentumEMA`` with ``update_buffers=True`` is
    updated by :meth:`foreach_update` (same values, two vectorised calls).

    Args: those of ``mmengine.hooks.EMAHook``; the YOLOv5 setting is
    ``ema_type='ExpMomentumEMA', momentum=0.0001, gamma=2000,
    update_buffers=True`` (the reference's formula and its averaging of all
    float state, BN statistics included).
    """

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if not optimizer_stepped(runner.optim_wrapper):
            return
        if self._ema_started(runner) and self.foreach_update():
            return
        super().after_train_iter(runner, batch_idx, data_batch, outputs)

    def foreach_update(self) -> bool:
        """mmdet ``ExpMomentumEMA.update_parameters`` on every float tensor
        at once (``torch._foreach_mul_`` / ``_foreach_add_``, the same
        ``avg * (1 - m) + src * m`` as its per-tensor loop, bit for bit).

        Returns False, doing nothing, where ``update_parameters`` must run:
        another EMA type, ``update_buffers=False``, the first update (a
        copy) and updates off the ``interval``.
        """
        ema = self.ema_model
        steps = int(ema.steps)
        if (type(ema) is not ExpMomentumEMA or not ema.update_buffers
                or steps == 0 or steps % ema.interval):
            return False
        source = self.src_model.state_dict()
        averaged, current = [], []
        for key, tensor in ema.avg_parameters.items():
            if tensor.dtype.is_floating_point:
                averaged.append(tensor)
                current.append(source[key].to(tensor.device))
        momentum = (1 - ema.momentum) * math.exp(
            -float(1 + steps) / ema.gamma) + ema.momentum
        torch._foreach_mul_(averaged, 1 - momentum)
        torch._foreach_add_(averaged, current, alpha=momentum)
        ema.steps += 1
        return True
