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
    ``P_i`` is sample i's full predicted class-probability vector (all N
    classes, not only the top one), ``t_i`` its true class and F the number
    of positive samples. The paper plots it in units of 1e-3.

    How it is applied to a detector's test output (the paper leaves "positive
    sample" undefined for detections; these are this metric's choices):

    - ``P_i`` = ``pred_instances.cls_probs[i]`` ([num_dets, N], object
      classes only, dataset class order), exactly as the detector outputs it
      (sigmoid vectors need not sum to 1 and are used as they are).
    - Positive samples: per image, the detections with ``score >=
      score_thr`` are matched to the non-ignored ground truths by the greedy
      rule of :mod:`csdet.evaluation.metrics.matching`: descending score,
      IoU >= ``iou_thr`` (0.5), **class-agnostic**, at most one detection per
      ground truth. Class-agnostic because a misclassified detection is
      exactly what the cost must see (a class-aware match would drop it).
      Each matched pair (detection i, ground truth of class t_i) is one
      positive sample; F = number of matched pairs.
    - ``score_thr`` defaults to 0.0: every detection the model outputs (the
      same set mAP is computed on). Then F is (nearly) the number of ground
      truths for any reasonable model, so two models are compared on the
      same objects; a higher threshold makes the cost conditional on being
      detected, with F differing between models.
    - Unmatched detections (false alarms) and unmatched ground truths
      (misses) are not part of Eq. 16; misses are reported as
      ``num_missed`` and :class:`DecisionCostMetric` prices both.
    - Eq. 16 is linear in P_i, so uniformly lower class probabilities
      (including a low-confidence match) lower the cost; read it next to
      mAP/F1, as the paper does.

    ``bayes_relabel`` does not change ``cost``: Eq. 16 uses the full vector
    P_i, not the label, and matching is class-agnostic. It changes
    ``label_cost``, the realised cost of the hard decisions
    ``(1/F) sum_i C[t_i, label_i]`` (= Eq. 16 with a one-hot P_i), which is
    where the post-hoc Bayes baseline shows its effect.

    Reported (prefix ``cost``): ``cost`` (Eq. 16), ``cost_x1e3`` (paper
    unit), ``F``, ``num_gts``, ``num_missed``, ``label_cost``, with
    ``classwise=True`` also ``cost_<class>`` (mean over the positives of
    that true class; NaN when it has none), and with ``bayes_relabel`` also
    ``num_relabelled`` (detections with ``score >= score_thr`` whose Bayes
    label differs from the model's). The costs are NaN when F = 0. A JSON
    with all of these plus F per class, the matrix and the settings is
    written as ``cost_metric.json`` (see ``output_dir``).

    Args:
        score_thr: minimum detection score to take part in matching.
        iou_thr: minimum IoU of a match.
        classwise: also report per-true-class costs in the returned dict.
        **kwargs: cost spec (``cost_matrix`` or ``classes`` /
            ``positive_classes`` / ``coefficients`` / ``group`` /
            ``normalize``, as for the loss), ``bayes_relabel``,
            ``gt_source``, ``gt_coords``, ``output_dir``, ``prefix``,
            ``collect_device``; see :class:`CostSensitiveDetMetric`.
    """
    default_prefix: Optional[str] = 'cost'
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
