"""EMA updated once per optimizer step, as the YOLOv5 reference does."""
from __future__ import annotations

from typing import Optional

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
    ``EMAHook``.

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
        if optimizer_stepped(runner.optim_wrapper):
            super().after_train_iter(runner, batch_idx, data_batch, outputs)
