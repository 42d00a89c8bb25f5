"""CostMetric: the paper's misclassification cost of detections (Eq. 16)."""
from typing import Any, Dict, List, Optional

import numpy as np
from mmengine.logging import print_log
from mmdet.registry import METRICS

from csdet.cost.decision import sample_costs
from .base import CostSensitiveDetMetric, above_threshold, safe_mean
from .matching import greedy_match


@METRICS.register_module()
class CostMetric(CostSensitiveDetMetric):
    """Average expected misclassification cost of matched detections.

    Paper Eq. 16: ``Cost = (1/F) * sum_{i=1..F} P_i . C[t_i]``, where
    ``P_i`` = ``pred_instances.cls_probs[i]`` (all N classes), ``t_i`` the
    class of the ground truth it matches and F the number of matched pairs.
    Detections with ``score >= score_thr`` are matched class-agnostically
    (greedy, IoU >= ``iou_thr``, one per ground truth; see
    :mod:`csdet.evaluation.metrics.matching`). Why these choices, and how
    to read the number: docs/method.md, section 4, "CostMetric".

    Reported (prefix ``cost_det``): ``cost``, ``cost_x1e3``, ``F``, ``num_gts``,
    ``num_missed``, ``label_cost`` (Eq. 16 with the decided label one-hot),
    ``cost_<class>`` when ``classwise``, ``num_relabelled`` with
    ``bayes_relabel``; costs are NaN when F = 0. Also writes
    ``cost_metric.json`` (see ``output_dir``).

    Args:
        score_thr: minimum detection score to take part in matching.
        iou_thr: minimum IoU of a match.
        classwise: also report per-true-class costs in the returned dict.
        **kwargs: cost spec (as for the loss), ``bayes_relabel``,
            ``gt_source``, ``gt_coords``, ``output_dir``, ``prefix``,
            ``collect_device``; see :class:`CostSensitiveDetMetric`.
    """
    default_prefix: Optional[str] = 'cost_det'
    requires_cls_probs = True

    def __init__(self,
                 score_thr: float = 0.0,
                 iou_thr: float = 0.5,
                 classwise: bool = True,
                 **kwargs) -> None:
        super().__init__(iou_thr=iou_thr, **kwargs)
        self.score_thr = float(score_thr)
        self.classwise = classwise

    def compute_metrics(self, results: List[Dict[str, Any]]) -> Dict[str,
                                                                      float]:
        """Match every image, then average Eq. 16's terms over the pairs."""
        class_names = self.class_names
        num_classes = len(class_names)
        matrix = self.cost_matrix
        costs, label_costs, true_labels = [], [], []
        num_gts = num_missed = num_relabelled = 0
        for record in results:
            self.check_cls_probs(record)
            labels = self.decision_labels(record)
            keep = above_threshold(record['scores'], self.score_thr)
            num_relabelled += int((labels != record['labels'])[keep].sum())
            assignment = greedy_match(record['scores'][keep],
                                      record['bboxes'][keep],
                                      record['gt_bboxes'], self.iou_thr,
                                      record['ignored_bboxes'])
            matched = assignment >= 0
            gt_classes = record['gt_labels'][assignment[matched]]
            probs = record['cls_probs'][keep][matched]
            costs.append(sample_costs(probs.reshape(-1, num_classes),
                                      gt_classes, matrix))
            label_costs.append(matrix[gt_classes, labels[keep][matched]])
            true_labels.append(gt_classes)
            num_gts += len(record['gt_labels'])
            num_missed += len(record['gt_labels']) - int(matched.sum())
        costs = np.concatenate(costs) if costs else np.zeros(0)
        label_costs = (np.concatenate(label_costs)
                       if label_costs else np.zeros(0))
        true_labels = (np.concatenate(true_labels)
                       if true_labels else np.zeros(0, dtype=np.int64))

        metrics = dict(
            cost=safe_mean(costs),
            cost_x1e3=safe_mean(costs) * 1e3,
            F=int(len(costs)),
            num_gts=num_gts,
            num_missed=num_missed,
            label_cost=safe_mean(label_costs))
        if self.bayes_relabel:
            metrics['num_relabelled'] = num_relabelled
        per_class_cost = {
            name: safe_mean(costs[true_labels == index])
            for index, name in enumerate(class_names)
        }
        per_class_count = {
            name: int((true_labels == index).sum())
            for index, name in enumerate(class_names)
        }
        if self.classwise:
            metrics.update(
                {f'cost_{name}': value
                 for name, value in per_class_cost.items()})
        if len(costs) == 0:
            print_log('CostMetric: no detection matched a ground truth '
                      '(F = 0); the cost is undefined (NaN).',
                      logger='current')
        self.dump_json(
            dict(
                metrics=metrics,
                per_class_cost=per_class_cost,
                per_class_F=per_class_count,
                num_images=len(results),
                classes=list(class_names),
                cost_matrix=matrix,
                settings=dict(
                    score_thr=self.score_thr,
                    iou_thr=self.iou_thr,
                    bayes_relabel=self.bayes_relabel,
                    matching='greedy by descending score, class-agnostic, '
                    'one detection per ground truth',
                    cost_spec=self.cost_spec)), 'cost_metric.json')
        return metrics
