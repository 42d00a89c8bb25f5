"""PositiveCostMetric: paper Eq. 16 over the class loss's positive samples."""
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement
from mmdet.registry import METRICS

from csdet.cost.decision import sample_costs
from csdet.engine.hooks.loss_positives_hook import LOSS_POSITIVES_KEY
from .base import CostSensitiveDetMetric, safe_mean

MISSING_HELP = (
    "PositiveCostMetric: data sample of image {img_id} has no "
    f"'{LOSS_POSITIVES_KEY}'. Add dict(type='LossPositivesHook') to the "
    "config's custom_hooks (csdet's config loader, "
    "csdet.utils.config.load_resolved, does this for you).")


@METRICS.register_module()
class PositiveCostMetric(CostSensitiveDetMetric):
    """Paper Eq. 16, ``Cost = (1/F) * sum_i P_i . C[t_i]``, with F the
    positive samples the class loss uses on the test images (YOLOv5's
    assigned anchor/cell pairs, SSD's positive anchors, Faster R-CNN's
    sampled positive RoIs) and ``P_i`` their class outputs (sigmoid, or the
    softmax's object columns). The population is the one the paper's cost
    term is trained on; :class:`CostMetric` scores matched detections.

    Needs :class:`csdet.engine.hooks.LossPositivesHook`. Reported (prefix
    ``cost_pos``): ``cost``, ``cost_x1e3``, ``F``, and ``cost_<class>``
    when ``classwise``. Writes ``cost_pos_metric.json``.

    Args:
        classwise: also report per-true-class costs.
        **kwargs: cost spec, ``output_dir``, ``prefix``, ``collect_device``;
            see :class:`CostSensitiveDetMetric`.
    """
    default_prefix: Optional[str] = 'cost_pos'

    def __init__(self, classwise: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.classwise = classwise

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep each image's positives (labels [F_i], probs [F_i, N])."""
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            positives = sample.get(LOSS_POSITIVES_KEY)
            if positives is None:
                raise KeyError(MISSING_HELP.format(img_id=sample.get('img_id')))
            self.results.append(dict(img_id=sample.get('img_id'), **positives))

    def compute_metrics(self, results: List[Dict[str, Any]]) -> Dict[str,
                                                                      float]:
        """Average the per-sample costs over all positives of all images."""
        class_names = self.class_names
        num_classes = len(class_names)
        matrix = self.cost_matrix
        labels = np.concatenate([r['labels'] for r in results] or
                                [np.zeros(0, np.int64)])
        probs = [r['probs'] for r in results if len(r['labels'])]
        for block in probs:
            if block.shape[1] != num_classes:
                raise ValueError(
                    f'PositiveCostMetric: the class loss has {block.shape[1]}'
                    f' object columns but the dataset has {num_classes} '
                    f'classes {class_names}')
        costs = (sample_costs(np.concatenate(probs), labels, matrix)
                 if probs else np.zeros(0))
        metrics = dict(cost=safe_mean(costs), cost_x1e3=safe_mean(costs) * 1e3,
                       F=int(len(costs)))
        per_class_cost = {name: safe_mean(costs[labels == index])
                          for index, name in enumerate(class_names)}
        if self.classwise:
            metrics.update({f'cost_{name}': value
                            for name, value in per_class_cost.items()})
        if len(costs) == 0:
            print_log('PositiveCostMetric: the loss had no positive samples '
                      '(F = 0); the cost is undefined (NaN).',
                      logger='current')
        self.dump_json(
            dict(metrics=metrics, per_class_cost=per_class_cost,
                 per_class_F={name: int((labels == index).sum())
                              for index, name in enumerate(class_names)},
                 num_images=len(results), classes=list(class_names),
                 cost_matrix=matrix, cost_spec=self.cost_spec),
            'cost_pos_metric.json')
        return metrics
