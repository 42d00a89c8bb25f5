"""BayesRelabelMetric: score any metric on Bayes minimum-risk relabelled
detections (the post-hoc baseline the paper contrasts with)."""
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.structures import BaseDataElement
from mmdet.registry import METRICS

from csdet.cost.decision import bayes_min_risk_labels
from .base import CLS_PROBS_HELP, _get, resolve_dataset_cost_matrix


@METRICS.register_module()
class BayesRelabelMetric(BaseMetric):
    """Wrap a metric so it sees Bayes minimum-risk labels.

    Every detection's label is replaced by
    ``argmin_k sum_c p_c * C[c, k]`` (``p`` = ``pred_instances.cls_probs``,
    C = the cost matrix in dataset class order) before the wrapped metric's
    ``process``; its score and box are kept. The data samples are copied,
    so other metrics of the same evaluator still see the model's labels.
    One line in a config turns it on for e.g. CocoMetric::

        val_evaluator = [
            dict(type='CocoMetric', ann_file=..., metric='bbox'),
            dict(type='BayesRelabelMetric',
                 metric=dict(type='CocoMetric', ann_file=..., metric='bbox'),
                 positive_classes=[...], group='a'),
        ]

    Keys are reported under ``prefix`` (default ``'bayes_'`` + the wrapped
    metric's prefix, e.g. ``bayes_coco/bbox_mAP_50``), so plain and
    relabelled results can sit in one evaluator. csdet's own metrics also
    take ``bayes_relabel=True`` directly.

    Args:
        metric: the wrapped metric (config dict or instance).
        cost_matrix, classes, positive_classes, coefficients, group,
            normalize: cost spec, as for the loss
            (:func:`csdet.cost.matrix.resolve_cost_matrix`); ``classes``
            defaults to ``dataset_meta['classes']``.
        prefix: prefix of the reported keys (see above).
        collect_device: see :class:`mmengine.evaluator.BaseMetric`.
    """
    default_prefix: Optional[str] = 'bayes'

    def __init__(self,
                 metric: Union[dict, BaseMetric],
                 cost_matrix: Optional[Union[str, Sequence,
                                             np.ndarray]] = None,
                 classes: Optional[Sequence[str]] = None,
                 positive_classes: Optional[Sequence[str]] = None,
                 coefficients: Optional[Sequence[float]] = None,
                 group: Optional[str] = None,
                 normalize: Optional[str] = 'max',
                 prefix: Optional[str] = None,
                 collect_device: str = 'cpu') -> None:
        self.metric = (METRICS.build(metric)
                       if isinstance(metric, dict) else metric)
        if not isinstance(self.metric, BaseMetric):
            raise TypeError('BayesRelabelMetric: metric must be a BaseMetric '
                            f'or its config dict, got {type(metric)}')
        super().__init__(
            collect_device=collect_device,
            prefix=prefix or f'bayes_{self.metric.prefix}')
        # the wrapped metric reports, so it carries the final prefix
        self.metric.prefix = self.prefix
        self.cost_spec = dict(
            cost_matrix=cost_matrix,
            classes=None if classes is None else tuple(classes),
            positive_classes=positive_classes,
            coefficients=coefficients,
            group=group,
            normalize=normalize)
        self._cost_matrix: Optional[np.ndarray] = None

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        self.metric.dataset_meta = dataset_meta
        self._cost_matrix = None

    @property
    def cost_matrix(self) -> np.ndarray:
        if self._cost_matrix is None:
            meta = self.dataset_meta or {}
            classes = meta.get('classes', self.cost_spec['classes'])
            if classes is None:
                raise RuntimeError(
                    'BayesRelabelMetric needs the class names: set '
                    "dataset_meta (the runner does) or pass classes=[...].")
            self._cost_matrix = resolve_dataset_cost_matrix(
                self.cost_spec, classes, type(self).__name__)
        return self._cost_matrix

    def relabel(self, data_sample: Any) -> dict:
        """A copy of ``data_sample`` whose ``pred_instances.labels`` are the
        Bayes minimum-risk labels."""
        if isinstance(data_sample, BaseDataElement):
            data_sample = data_sample.to_dict()
        pred = data_sample['pred_instances']
        if isinstance(pred, BaseDataElement):
            pred = pred.to_dict()
        cls_probs = _get(pred, 'cls_probs')
        if cls_probs is None:
            raise KeyError(CLS_PROBS_HELP.format(metric='BayesRelabelMetric'))
        labels = _get(pred, 'labels')
        if len(cls_probs):
            new_labels = bayes_min_risk_labels(cls_probs, self.cost_matrix)
            if isinstance(labels, torch.Tensor):
                new_labels = torch.as_tensor(
                    new_labels, device=labels.device).to(labels.dtype)
        else:
            new_labels = labels
        return dict(data_sample, pred_instances=dict(pred, labels=new_labels))

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        self.metric.process(data_batch,
                            [self.relabel(sample) for sample in data_samples])

    def compute_metrics(self, results: list) -> dict:
        return self.metric.compute_metrics(results)

    def evaluate(self, size: int) -> dict:
        """Delegate to the wrapped metric (it holds the results)."""
        return self.metric.evaluate(size)
