"""Per-class score thresholds tuned on a labelled split, and the realised
decision cost of any decision rule.

The realised decision cost is ``DecisionCostMetric``'s total: the decisions
(detections kept with their decided labels) are matched to the ground truth
by ``image_decision_confusion`` of
:mod:`csdet.evaluation.metrics.decision_cost_metric` (class-agnostic greedy
matching; misses and false alarms included) and the
(N+1) x (N+1) confusion matrix is priced with the extended cost matrix. With
one threshold for every class it is exactly
``DecisionCostMetric(score_thr=thr).compute_metrics(records)['total_cost']``.

Records are the per-image dicts the csdet metrics collect
(``CostSensitiveDetMetric.process``, e.g. ``metric.results`` after an
evaluation): ``scores`` ``[D]`` float32, ``bboxes`` ``[D, 4]``, ``labels``
``[D]``, ``cls_probs`` ``[D, N]`` (rules that need them), ``gt_bboxes``,
``gt_labels``, ``ignored_bboxes``, ``ignored_labels``.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from csdet.evaluation.metrics.decision_cost_metric import (
    decision_metrics, image_decision_confusion)
from csdet.evaluation.metrics.f1_metric import (class_prf,
                                                per_class_match_flags)
from .deploy_decision import DEFAULT_SCORE_THR, DecisionRule

OBJECTIVES = ('decision_cost', 'f1')
#: Default candidate thresholds: 0.05, 0.06, ..., 0.95.
DEFAULT_CANDIDATES = np.round(np.linspace(0.05, 0.95, 91), 2)
_RECORD_KEYS = ('scores', 'bboxes', 'labels', 'gt_bboxes', 'gt_labels',
                'ignored_bboxes')


def _check_records(records: Sequence[Mapping[str, Any]],
                   num_classes: int) -> None:
    for index, record in enumerate(records):
        missing = [key for key in _RECORD_KEYS if key not in record]
        if missing:
            raise KeyError(f'record {index} lacks {missing}; pass the '
                           'records a csdet metric collects (see '
                           'CostSensitiveDetMetric.process)')
        for key in ('labels', 'gt_labels'):
            values = np.asarray(record[key])
            if values.size and (values.min() < 0
                                or values.max() >= num_classes):
                raise ValueError(
                    f'record {index} ({record.get("img_id")}): {key} hold '
                    f'class indices [{values.min()}, {values.max()}] '
                    f'outside the {num_classes} classes')


def _check_extended(extended_cost_matrix: Any,
                    num_classes: int) -> np.ndarray:
    matrix = np.asarray(extended_cost_matrix, dtype=np.float64)
    if matrix.shape != (num_classes + 1, num_classes + 1):
        raise ValueError(
            f'extended_cost_matrix must be ({num_classes + 1}, '
            f'{num_classes + 1}) for {num_classes} classes, background last, '
            f'got {matrix.shape}; take DecisionCostMetric(...)'
            '.extended_cost_matrix() so that the tuned cost is the one the '
            'metric reports')
    return matrix


def rule_decision_metrics(records: Sequence[Mapping[str, Any]],
                          rule: DecisionRule,
                          iou_thr: float = 0.5) -> Dict[str, float]:
    """``DecisionCostMetric``'s numbers for the decisions of ``rule``.

    Each record's detections are decided by ``rule``; those decided "no
    defect" are dropped, the rest keep their decided label (and score, for
    the matching order). Returns :func:`decision_metrics` (``total_cost``,
    ``cost_per_image``, the parts and the counts).
    """
    matrix = rule.extended_cost_matrix
    num_classes = len(matrix) - 1
    _check_records(records, num_classes)
    confusion = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for record in records:
        decisions = rule(record['labels'], record['scores'],
                         record.get('cls_probs'))
        keep = decisions.labels < num_classes
        labels = np.where(keep, decisions.labels, 0)
        confusion += image_decision_confusion(record, labels, keep,
                                              num_classes, iou_thr)
    return decision_metrics(confusion, matrix, len(records))


def _trim_records(records: Sequence[Mapping[str, Any]],
                  lowest: float) -> List[Dict[str, Any]]:
    """The records without the detections no threshold >= ``lowest`` can
    keep (the matching of the kept ones does not depend on them)."""
    trimmed = []
    for record in records:
        keep = np.asarray(record['scores'], np.float32) >= np.float32(lowest)
        trimmed.append(
            dict(record,
                 **{key: np.asarray(record[key])[keep]
                    for key in ('scores', 'labels', 'bboxes')}))
    return trimmed


class _CostState:
    """Per-image confusion matrices at the current per-class thresholds.
    A threshold change re-matches only the images that have a detection of
    that class between the old and the new threshold."""

    def __init__(self, records: Sequence[Mapping[str, Any]],
                 thresholds: np.ndarray, matrix: np.ndarray,
                 iou_thr: float) -> None:
        self.records = records
        self.matrix = matrix
        self.iou_thr = iou_thr
        self.num_classes = len(matrix) - 1
        self.scores = [np.asarray(r['scores'], np.float32) for r in records]
        self.labels = [np.asarray(r['labels'], np.int64) for r in records]
        # per class: its detections' scores (ascending) and their images
        self.class_scores, self.class_images = [], []
        for class_index in range(self.num_classes):
            pairs = [(score, index)
                     for index, (scores, labels) in enumerate(
                         zip(self.scores, self.labels))
                     for score in scores[labels == class_index]]
            pairs.sort()
            self.class_scores.append(
                np.array([p[0] for p in pairs], np.float32))
            self.class_images.append(np.array([p[1] for p in pairs],
                                              np.int64))
        self.thresholds = thresholds.copy()
        self.confusions = [
            self._image_confusion(index, self.thresholds)
            for index in range(len(records))
        ]
        self.confusion = sum(
            self.confusions,
            np.zeros((self.num_classes + 1, self.num_classes + 1),
                     dtype=np.int64))
        self.total = self._cost(self.confusion)

    def _cost(self, confusion: np.ndarray) -> float:
        return decision_metrics(confusion, self.matrix, 0)['total_cost']

    def _image_confusion(self, index: int,
                         thresholds: np.ndarray) -> np.ndarray:
        keep = class_keep(self.scores[index], self.labels[index], thresholds)
        return image_decision_confusion(self.records[index],
                                        self.labels[index], keep,
                                        self.num_classes, self.iou_thr)

    def _images_between(self, class_index: int, first: float,
                        second: float) -> np.ndarray:
        """Images with a detection of the class scored in [low, high) of
        the two thresholds (compared in float32)."""
        low, high = sorted((np.float32(first), np.float32(second)))
        scores = self.class_scores[class_index]
        start, stop = np.searchsorted(scores, [low, high], side='left')
        return np.unique(self.class_images[class_index][start:stop])

    def best_threshold(self, class_index: int,
                       candidates: np.ndarray) -> Optional[float]:
        """The first candidate (in the given order) whose total cost is
        strictly below the current one and lowest, or None. Candidates are
        visited in turn, each re-matching only the images that changed
        since the previous one."""
        thresholds = self.thresholds.copy()
        confusion = self.confusion.copy()
        trial = {}  # image -> its confusion at the previous candidate
        best_value, best_total = None, self.total
        previous = thresholds[class_index]
        for value in candidates:
            thresholds[class_index] = value
            for index in self._images_between(class_index, previous, value):
                new = self._image_confusion(index, thresholds)
                confusion += new - trial.get(index, self.confusions[index])
                trial[index] = new
            previous = value
            total = self._cost(confusion)
            if total < best_total:
                best_value, best_total = value, total
        return best_value

    def accept(self, class_index: int, value: float) -> None:
        """Set the class's threshold to ``value`` and update the state."""
        thresholds = self.thresholds.copy()
        thresholds[class_index] = value
        for index in self._images_between(class_index,
                                          self.thresholds[class_index],
                                          value):
            new = self._image_confusion(index, thresholds)
            self.confusion += new - self.confusions[index]
            self.confusions[index] = new
        self.thresholds = thresholds
        self.total = self._cost(self.confusion)


def _tune_decision_cost(records, thresholds, matrix, candidates, iou_thr,
                        max_sweeps) -> np.ndarray:
    """Coordinate descent: per class in turn, the candidate with the lowest
    total cost, accepted only when strictly lower (ties: the first
    candidate); until a sweep changes nothing (or ``max_sweeps``)."""
    lowest = min(float(np.min(candidates)), float(np.min(thresholds)))
    state = _CostState(_trim_records(records, lowest), thresholds, matrix,
                       iou_thr)
    for _ in range(max_sweeps):
        improved = False
        for class_index in range(state.num_classes):
            value = state.best_threshold(class_index, candidates)
            if value is not None:
                state.accept(class_index, value)
                improved = True
        if not improved:
            break
    return state.thresholds


def _class_match_data(records, num_classes, iou_thr) -> tuple:
    """All records' kept detections (scores, labels, TP flags) under
    ``F1Metric``'s class-aware matching, and the ground truths per class."""
    scores, labels, is_tp = [], [], []
    gt_counts = np.zeros(num_classes, dtype=np.int64)
    for record in records:
        record_labels = np.asarray(record['labels'], np.int64)
        flags = per_class_match_flags(record, record_labels, num_classes,
                                      iou_thr)
        kept = flags >= 0
        scores.append(np.asarray(record['scores'], np.float32)[kept])
        labels.append(record_labels[kept])
        is_tp.append(flags[kept])
        gt_counts += np.bincount(
            np.asarray(record['gt_labels'], np.int64),
            minlength=num_classes)[:num_classes]
    join = (lambda parts, dtype: np.concatenate(parts)
            if parts else np.zeros(0, dtype))
    return (join(scores, np.float32), join(labels, np.int64),
            join(is_tp, np.int64), gt_counts)


def _class_f1(match_data: tuple, class_index: int,
              values: np.ndarray) -> np.ndarray:
    scores, labels, is_tp, gt_counts = match_data
    in_class = labels == class_index
    return class_prf(scores[in_class], is_tp[in_class],
                     int(gt_counts[class_index]),
                     np.asarray(values, np.float32))[2]


def macro_f1_at(match_data: tuple, thresholds: np.ndarray) -> float:
    """Macro F1 (over classes with ground truth, as ``F1Metric``) with class
    c's detections kept at ``score >= thresholds[c]``; NaN without ground
    truth."""
    gt_counts = match_data[3]
    values = [
        _class_f1(match_data, index, [thresholds[index]])[0]
        for index in range(len(gt_counts)) if gt_counts[index] > 0
    ]
    return float(np.mean(values)) if values else float('nan')


def _tune_f1(match_data, thresholds, candidates) -> np.ndarray:
    """Per class the candidate with the highest F1 (class-aware matching
    makes each class independent), kept only when strictly higher than at
    the start; ties go to the lowest candidate."""
    tuned = thresholds.copy()
    for class_index in range(len(tuned)):
        if match_data[3][class_index] == 0:
            continue  # no ground truth: F1 does not depend on the threshold
        start = _class_f1(match_data, class_index, [tuned[class_index]])[0]
        f1 = _class_f1(match_data, class_index, candidates)
        best = int(np.argmax(f1))
        if f1[best] > start:
            tuned[class_index] = candidates[best]
    return tuned


def tune_class_thresholds(records: Sequence[Mapping[str, Any]],
                          classes: Sequence[str],
                          extended_cost_matrix: Any,
                          objective: str = 'decision_cost',
                          candidates: Optional[Sequence[float]] = None,
                          start_threshold: float = DEFAULT_SCORE_THR,
                          iou_thr: float = 0.5,
                          max_sweeps: int = 5) -> Dict[str, Any]:
    """Per-class score thresholds that lower the realised decision cost (or
    raise macro F1) on a labelled split.

    Starts from ``start_threshold`` for every class and only accepts strict
    improvements, so the tuned objective on ``records`` is never worse than
    the global threshold's. ``'decision_cost'``: coordinate descent over
    the classes (all candidates of one class, then the next), sweeps until
    nothing changes. ``'f1'``: each class's F1 (``F1Metric``'s class-aware
    matching) maximised on its own.

    Args:
        records: per-image metric records of the tuning split (module
            docstring); never the split the result is reported on.
        classes: the N class names in model order.
        extended_cost_matrix: ``[N+1, N+1]``, background last, as
            ``DecisionCostMetric.extended_cost_matrix()``.
        objective: ``'decision_cost'`` or ``'f1'``.
        candidates: thresholds to try (default 0.05, 0.06, ..., 0.95), each
            in [0, 1].
        start_threshold: the global threshold to start from (0.25).
        iou_thr: minimum IoU of a match.
        max_sweeps: coordinate-descent sweeps at most.

    Returns:
        A JSON-ready dict: ``thresholds`` ``{class: thr}`` (readable by
        :func:`csdet.cost.deploy_decision.build_decision_rule`),
        ``objective``, ``start_threshold``, ``iou_thr``, ``num_images``,
        ``decision_cost`` and ``macro_f1`` (each ``{'start': ..., 'tuned':
        ...}`` on ``records``).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f'objective must be one of {OBJECTIVES}, got '
                         f'{objective!r}')
    classes = list(classes)
    num_classes = len(classes)
    matrix = _check_extended(extended_cost_matrix, num_classes)
    _check_records(records, num_classes)
    values = np.asarray(DEFAULT_CANDIDATES if candidates is None else
                        candidates, dtype=np.float64).reshape(-1)
    if values.size == 0 or not np.isfinite(values).all() or (
            values < 0).any() or (values > 1).any():
        raise ValueError('candidates must be a non-empty list of thresholds '
                         f'in [0, 1], got {values.tolist()}')
    if not 0.0 <= start_threshold <= 1.0:
        raise ValueError('start_threshold must be in [0, 1], got '
                         f'{start_threshold}')
    start = np.full(num_classes, float(start_threshold))
    match_data = _class_match_data(records, num_classes, iou_thr)
    if objective == 'decision_cost':
        tuned = _tune_decision_cost(records, start, matrix, values, iou_thr,
                                    max_sweeps)
    else:
        tuned = _tune_f1(match_data, start, values)
    costs = {
        name: realised_cost(records, thresholds, matrix, iou_thr)
        for name, thresholds in (('start', start), ('tuned', tuned))
    }
    return dict(
        thresholds={name: float(value)
                    for name, value in zip(classes, tuned)},
        objective=objective,
        start_threshold=float(start_threshold),
        iou_thr=float(iou_thr),
        num_images=len(records),
        decision_cost=costs,
        macro_f1={
            'start': macro_f1_at(match_data, start),
            'tuned': macro_f1_at(match_data, tuned)
        })


def class_keep(scores: np.ndarray, labels: np.ndarray,
               thresholds: np.ndarray) -> np.ndarray:
    """``scores >= thresholds[labels]``, compared in float32 as
    ``DecisionCostMetric`` compares (see ``base.above_threshold``)."""
    return (np.asarray(scores, np.float32) >=
            np.asarray(thresholds).astype(np.float32)[labels])


def realised_cost(records: Sequence[Mapping[str, Any]],
                  thresholds: Any, extended_cost_matrix: Any,
                  iou_thr: float = 0.5) -> float:
    """Total decision cost with class c's detections kept at ``score >=
    thresholds[c]`` (model labels): ``DecisionCostMetric``'s
    ``total_cost`` when every threshold is equal."""
    matrix = np.asarray(extended_cost_matrix, dtype=np.float64)
    num_classes = len(matrix) - 1
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if thresholds.shape != (num_classes, ):
        raise ValueError(f'thresholds must hold {num_classes} values, got '
                         f'shape {thresholds.shape}')
    confusion = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for record in records:
        labels = np.asarray(record['labels'], np.int64)
        confusion += image_decision_confusion(
            record, labels, class_keep(record['scores'], labels, thresholds),
            num_classes, iou_thr)
    return decision_metrics(confusion, matrix, len(records))['total_cost']
