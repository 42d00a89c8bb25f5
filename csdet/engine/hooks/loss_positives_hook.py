"""Attach each test image's loss positives for PositiveCostMetric."""
from typing import Optional

from mmengine.hooks import Hook
from mmdet.registry import HOOKS

from csdet.models.utils.loss_positives import loss_positives

#: metainfo key read by :class:`csdet.evaluation.metrics.PositiveCostMetric`
LOSS_POSITIVES_KEY = 'loss_positives'


@HOOKS.register_module()
class LossPositivesHook(Hook):
    """Before every val/test iteration, run the model's loss on each image
    with its ground truth and store the class loss's positives (``labels``
    [F_i], ``probs`` [F_i, N]) in the data sample's metainfo under
    ``'loss_positives'``, where the evaluator finds them.

    Costs one extra forward pass per image. The config loader adds this
    hook when an evaluator holds a ``PositiveCostMetric``.
    """
    priority = 'NORMAL'

    def _attach(self, runner, data_batch: Optional[dict]) -> None:
        if not data_batch:
            return
        for sample, positives in zip(data_batch['data_samples'],
                                     loss_positives(runner.model,
                                                    data_batch)):
            sample.set_metainfo({LOSS_POSITIVES_KEY: positives})

    def before_val_iter(self, runner, batch_idx: int,
                        data_batch: Optional[dict] = None) -> None:
        self._attach(runner, data_batch)

    def before_test_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None) -> None:
        self._attach(runner, data_batch)
