"""Run the test loop on a copy of the model with BatchNorm folded into the
convs."""
from __future__ import annotations

from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmdet.registry import HOOKS

from csdet.models.utils import inference_copy


@HOOKS.register_module()
class FuseConvBNHook(Hook):
    """Test a fused copy of a model that asks for it.

    ``before_test_epoch`` (lowest priority, so after ``EMAHook`` has put the
    averaged weights in): when the model has ``fuse_conv_bn`` set (YOLOv5's
    ``test_cfg.fuse_conv_bn``, default True), ``runner.model`` becomes a deep
    copy fused by its ``fuse_for_inference()``; ``after_test_epoch`` puts the
    original back. The trained model, validation during training and the
    saved checkpoints are never fused. Other models are left alone.
    """

    priority = 'LOWEST'

    def __init__(self) -> None:
        self._original = None

    def before_test_epoch(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        fused = inference_copy(model)
        if fused is model:
            return
        self._original = runner.model
        runner.model = fused
        runner.logger.info(
            'FuseConvBNHook: testing with BatchNorm folded into the convs '
            '(model.test_cfg.fuse_conv_bn=False turns this off)')

    def after_test_epoch(self, runner,
                         metrics: Optional[dict] = None) -> None:
        if self._original is not None:
            runner.model, self._original = self._original, None
