"""F1Metric: multi-class (macro) F1 of detections, as the paper reports."""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmdet.registry import METRICS

from . import curves
from .base import CostSensitiveDetMetric, float32_to_float
from .matching import greedy_match


def per_class_match_flags(record: Dict[str, Any], labels: np.ndarray,
                          num_classes: int, iou_thr: float) -> np.ndarray:
    """Class-aware matching of one image: for every detection, 1 = true
    positive, 0 = false positive, -1 = dropped (covers an ignored ground
    truth of its class). Uses all detections; any score threshold is a prefix
    of this matching (see :mod:`.matching`)."""
    flags = np.zeros(len(labels), dtype=np.int64)
    for class_index in range(num_classes):
        dets = np.flatnonzero(labels == class_index)
        if len(dets) == 0:
            continue
        assignment = greedy_match(
            record['scores'][dets], record['bboxes'][dets],
            record['gt_bboxes'][record['gt_labels'] == class_index], iou_thr,
            record['ignored_bboxes'][record['ignored_labels'] ==
                                     class_index])
        flags[dets] = np.where(assignment >= 0, 1,
                               np.where(assignment == -1, 0, -1))
    return flags


def collect_matches(records: Sequence[Dict[str, Any]],
                    labels: Sequence[np.ndarray], num_classes: int,
                    iou_thr: float) -> tuple:
    """Class-aware matching of every record (:func:`per_class_match_flags`)
    joined over the set.

    Args:
        records: metric records; ``labels[i]`` ``[D_i]`` the labels record i
            is scored with.

    Returns:
        ``(scores, labels, is_tp, gt_counts)``: ``[D]`` float32, int64,
        int64 of the detections that are not dropped, and ``[N]`` ground
        truths per class; the arguments of :func:`macro_f1_curve`.
    """
    all_scores, all_labels, all_tp = [], [], []
    gt_counts = np.zeros(num_classes, dtype=np.int64)
    for record, record_labels in zip(records, labels):
        flags = per_class_match_flags(record, record_labels, num_classes,
                                      iou_thr)
        kept = flags >= 0
        all_scores.append(record['scores'][kept])
        all_labels.append(record_labels[kept])
        all_tp.append(flags[kept])
        gt_counts += np.bincount(record['gt_labels'],
                                 minlength=num_classes)[:num_classes]

    def join(parts: list, dtype) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype)

    return (join(all_scores, np.float32), join(all_labels, np.int64),
            join(all_tp, np.int64), gt_counts)


def class_prf(scores: np.ndarray, is_tp: np.ndarray, num_gts: int,
              thresholds: np.ndarray) -> tuple:
    """Precision, recall and F1 of one class at every threshold.

    Args:
        scores, is_tp: ``[D_c]`` the class's detections and their TP flags.
        num_gts: ground truths of the class.
        thresholds: ``[T]``; detections with ``score >= threshold`` count.

    Returns:
        three ``[T]`` arrays; P = 0 with no detection, R = 0 with no ground
        truth, F1 = 0 when P + R = 0.
    """
    order = np.argsort(scores, kind='stable')
    sorted_scores = scores[order]
    # tp_from[i] = true positives among sorted detections i, i+1, ...
    tp_from = np.concatenate([np.cumsum(is_tp[order][::-1])[::-1], [0]])
    first_kept = np.searchsorted(sorted_scores, thresholds, side='left')
    num_kept = len(sorted_scores) - first_kept
    true_pos = tp_from[first_kept]
    zeros = np.zeros(len(thresholds))
    precision = np.divide(true_pos, num_kept, out=zeros.copy(),
                          where=num_kept > 0)
    recall = true_pos / num_gts if num_gts > 0 else zeros.copy()
    f1 = np.divide(2 * precision * recall, precision + recall,
                   out=zeros.copy(), where=precision + recall > 0)
    return precision, recall, f1


def macro_f1_curve(scores: np.ndarray,
                   labels: np.ndarray,
                   is_tp: np.ndarray,
                   gt_counts: np.ndarray,
                   thresholds: np.ndarray,
                   per_class: bool = False) -> Dict[str, np.ndarray]:
    """Macro precision/recall/F1 at every threshold (``score >= thr``).

    Args:
        scores, labels, is_tp: ``[D]`` kept detections of the whole set.
        gt_counts: ``[N]`` ground truths per class.
        thresholds: ``[T]`` score thresholds (same dtype as ``scores``).
        per_class: also return the ``[N, T]`` per-class arrays (memory
            N x T, so the full sweep asks only for the means).

    Returns:
        ``macro_precision``, ``macro_recall``, ``macro_f1`` of shape ``[T]``:
        means over the classes that have ground truth (NaN if none); with
        ``per_class`` also ``precision``, ``recall``, ``f1`` ``[N, T]``.
    """
    names = ('precision', 'recall', 'f1')
    sums = {name: np.zeros(len(thresholds)) for name in names}
    rows = {name: [] for name in names}
    has_gt = gt_counts > 0
    for class_index, num_gts in enumerate(gt_counts):
        in_class = labels == class_index
        values = class_prf(scores[in_class], is_tp[in_class], int(num_gts),
                           thresholds)
        for name, value in zip(names, values):
            if has_gt[class_index]:
                sums[name] += value
            if per_class:
                rows[name].append(value)
    curve = {
        f'macro_{name}': (sums[name] / has_gt.sum() if has_gt.any() else
                          np.full(len(thresholds), np.nan))
        for name in names
    }
    if per_class:
        curve.update({
            name: np.stack(rows[name]).reshape(len(gt_counts), -1)
            for name in names
        })
    return curve


@METRICS.register_module()
class F1Metric(CostSensitiveDetMetric):
    """Multi-class F1 (macro average of per-class F1) of detections.

    Per class c (Espindola & Ebecken, 2005, as the paper reports it):
    ``P_c = TP_c / (TP_c + FP_c)``, ``R_c = TP_c / G_c``,
    ``F1_c = 2 P_c R_c / (P_c + R_c)`` (0/0 = 0), averaged over the classes
    with ground truth. Matching is class-aware, greedy by score, IoU >=
    ``iou_thr``, one detection per ground truth
    (:mod:`csdet.evaluation.metrics.matching`). Evaluated at ``score_thr``
    and at the threshold maximising macro F1 (exact sweep, ties to the
    higher threshold, no smoothing); conventions: docs/method.md, section 4.

    Reported (prefix ``f1``): ``f1``, ``precision``, ``recall`` at
    ``score_thr``; ``best_f1``, ``best_score_thr``, ``best_precision``,
    ``best_recall``; ``f1_<class>`` with ``classwise``. Also writes
    ``f1_metric.json`` (per-class values at both thresholds and counts).

    Args:
        score_thr: fixed operating threshold (``score >= score_thr``).
        iou_thr: minimum IoU of a match.
        classwise: report per-class F1 at ``score_thr`` too.
        save_curves: write ``pr_curve.png`` and ``f1_curve.png`` (per class
            and macro, grid 0.00..1.00 of :mod:`.curves`) to the output dir.
        **kwargs: see :class:`CostSensitiveDetMetric` (the cost spec is only
            needed for ``bayes_relabel``).
    """
    default_prefix: Optional[str] = 'f1'

    def __init__(self,
                 score_thr: float = 0.25,
                 iou_thr: float = 0.5,
                 classwise: bool = False,
                 save_curves: bool = True,
                 **kwargs) -> None:
        super().__init__(iou_thr=iou_thr, **kwargs)
        self.score_thr = float(score_thr)
        self.classwise = classwise
        self.save_curves = save_curves

    def compute_metrics(self, results: List[Dict[str, Any]]) -> Dict[str,
                                                                      float]:
        class_names = self.class_names
        matches = collect_matches(
            results, [self.decision_labels(record) for record in results],
            len(class_names), self.iou_thr)
        scores, labels, is_tp, gt_counts = matches

        # float32 like the scores (see base.above_threshold). Candidates in
        # descending order, starting with one above every score (keeps no
        # detection), so that argmax ties go to the highest threshold.
        candidates = np.unique(scores)[::-1]
        above_all = (np.nextafter(candidates[0], np.float32(np.inf))
                     if len(candidates) else np.float32(1.0))
        thresholds = np.concatenate(
            [[self.score_thr], [above_all], candidates]).astype(np.float32)
        sweep = macro_f1_curve(scores, labels, is_tp, gt_counts, thresholds)
        if np.isnan(sweep['macro_f1'][1:]).all():
            best = 1
        else:
            best = 1 + int(np.nanargmax(sweep['macro_f1'][1:]))
        # column 0: the fixed threshold, column 1: the best one
        curve = macro_f1_curve(scores, labels, is_tp, gt_counts,
                               thresholds[[0, best]], per_class=True)

        metrics = dict(
            f1=float(curve['macro_f1'][0]),
            precision=float(curve['macro_precision'][0]),
            recall=float(curve['macro_recall'][0]),
            best_f1=float(curve['macro_f1'][1]),
            best_score_thr=float32_to_float(thresholds[best]),
            best_precision=float(curve['macro_precision'][1]),
            best_recall=float(curve['macro_recall'][1]))
        if self.classwise:
            metrics.update({
                f'f1_{name}': float(curve['f1'][index, 0])
                for index, name in enumerate(class_names)
            })

        def per_class(column: int) -> dict:
            return {
                name: dict(
                    precision=curve['precision'][index, column],
                    recall=curve['recall'][index, column],
                    f1=curve['f1'][index, column])
                for index, name in enumerate(class_names)
            }

        self.dump_json(
            dict(
                metrics=metrics,
                per_class_at_score_thr=per_class(0),
                per_class_at_best_thr=per_class(1),
                num_gts_per_class=dict(zip(class_names, gt_counts)),
                num_images=len(results),
                classes=list(class_names),
                settings=dict(
                    score_thr=self.score_thr,
                    iou_thr=self.iou_thr,
                    bayes_relabel=self.bayes_relabel,
                    matching='greedy by descending score, class-aware, one '
                    'detection per ground truth',
                    macro_average='over classes with ground truth')),
            'f1_metric.json')
        if self.save_curves:
            self.plot_curves(matches, metrics)
        return metrics

    def plot_curves(self, matches: tuple, metrics: Dict[str, float]) -> None:
        """``pr_curve.png`` and ``f1_curve.png`` over the threshold grid
        (:mod:`.curves`), per class with ground truth and macro, into the
        output dir (nothing without one)."""
        output_dir = self.resolve_output_dir()
        if output_dir is None:
            return
        grid = curves.grid_thresholds()
        curve = macro_f1_curve(*matches, grid, per_class=True)
        with_gt = np.flatnonzero(matches[3] > 0)
        names = [self.class_names[index] for index in with_gt]
        curves.plot_pr_curves(curve['precision'][with_gt],
                              curve['recall'][with_gt],
                              curve['macro_precision'],
                              curve['macro_recall'], names,
                              osp.join(output_dir, curves.PR_CURVE_PNG))
        curves.plot_f1_curves(
            curves.THRESHOLD_GRID, curve['f1'][with_gt], curve['macro_f1'],
            names, [(f'score_thr {self.score_thr:g}', self.score_thr,
                     metrics['f1']),
                    ('best', metrics['best_score_thr'], metrics['best_f1'])],
            osp.join(output_dir, curves.F1_CURVE_PNG))
