"""Score-threshold curves of the csdet metrics: the threshold grid, the
decision cost at every grid threshold, the curves CSV and the PNG plots.

The grid is 0.00, 0.01, ..., 1.00; a detection counts at threshold ``t``
when ``score >= float32(t)``, as the metrics compare (see
``base.above_threshold``). Files are written through a temporary file that
is renamed into place. Plots use matplotlib's object API
(:class:`matplotlib.figure.Figure` on the Agg canvas, no pyplot, no
display).
"""
import csv
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from csdet.utils.atomic import atomic_path, atomic_write
from .matching import greedy_match

#: The threshold grid of the curves: 0.00, 0.01, ..., 1.00.
THRESHOLD_GRID = np.round(np.arange(101) / 100, 2)

CURVES_CSV = 'threshold_curves.csv'
PR_CURVE_PNG = 'pr_curve.png'
F1_CURVE_PNG = 'f1_curve.png'
COST_CURVE_PNG = 'decision_cost_curve.png'


def grid_thresholds() -> np.ndarray:
    """:data:`THRESHOLD_GRID` in float32, the dtype of the stored scores."""
    return THRESHOLD_GRID.astype(np.float32)


def decision_parts(record: Mapping[str, Any], labels: np.ndarray,
                   extended: np.ndarray,
                   iou_thr: float) -> Tuple[np.ndarray, ...]:
    """One image's decision costs as functions of the threshold.

    All detections are matched once (class-agnostic greedy matching, as
    ``DecisionCostMetric``); the matching of the detections above any
    threshold is a prefix of it (:mod:`.matching`), so with ``t`` a
    threshold the image's total decision cost is
    ``det_costs[det_scores >= t].sum() + miss_costs[~(gt_scores >= t)].sum()``.

    Args:
        record: a metric record (:mod:`.base`).
        labels: ``[D]`` the labels the metric decides with.
        extended: ``[N+1, N+1]`` cost matrix, background last.
        iou_thr: minimum IoU of a match.

    Returns:
        ``det_scores`` ``[D]`` float32, ``det_costs`` ``[D]`` (matched:
        ``E[true, label]``, unmatched: ``E[N, label]``, covering an ignored
        ground truth: 0), ``gt_scores`` ``[G]`` float32 (score of the
        matched detection, -inf when none), ``miss_costs`` ``[G]``
        (``E[true, N]``).
    """
    background = len(extended) - 1
    scores = np.asarray(record['scores'], dtype=np.float32)
    gt_labels = np.asarray(record['gt_labels'], dtype=np.int64)
    assignment = greedy_match(scores, record['bboxes'], record['gt_bboxes'],
                              iou_thr, record['ignored_bboxes'])
    matched = assignment >= 0
    det_costs = np.zeros(len(scores))
    det_costs[matched] = extended[gt_labels[assignment[matched]],
                                  labels[matched]]
    unmatched = assignment == -1
    det_costs[unmatched] = extended[background, labels[unmatched]]
    gt_scores = np.full(len(gt_labels), -np.inf, dtype=np.float32)
    gt_scores[assignment[matched]] = scores[matched]
    return scores, det_costs, gt_scores, extended[gt_labels, background]


def decision_cost_curve(records: Sequence[Mapping[str, Any]],
                        labels: Sequence[np.ndarray], extended: np.ndarray,
                        iou_thr: float,
                        thresholds: np.ndarray) -> np.ndarray:
    """``[T]`` total decision cost (``DecisionCostMetric``'s
    ``total_cost``) with one global threshold, at every ``thresholds``
    value (float32).

    Args:
        records: metric records; ``labels[i]`` ``[D_i]`` the decided labels
            of record i.
        extended: ``[N+1, N+1]`` cost matrix, background last.
        iou_thr: minimum IoU of a match.
        thresholds: ``[T]`` float32.
    """
    parts = [
        decision_parts(record, record_labels, extended, iou_thr)
        for record, record_labels in zip(records, labels)
    ]

    def join(index: int, dtype) -> np.ndarray:
        arrays = [part[index] for part in parts]
        return np.concatenate(arrays) if arrays else np.zeros(0, dtype)

    det_scores, det_costs = join(0, np.float32), join(1, np.float64)
    gt_scores, miss_costs = join(2, np.float32), join(3, np.float64)
    return np.array([
        det_costs[det_scores >= threshold].sum() +
        miss_costs[~(gt_scores >= threshold)].sum()
        for threshold in np.asarray(thresholds, dtype=np.float32)
    ])


def write_curves_csv(path: str, columns: Mapping[str, np.ndarray]) -> str:
    """Write equal-length columns as CSV (header = the keys; the first
    column printed with 2 decimals, NaN as ``nan``), atomically."""
    names = list(columns)
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f'curve columns differ in length: '
                         f'{ {name: len(columns[name]) for name in names} }')
    rows: List[List[str]] = []
    for index in range(lengths.pop()):
        row = [f'{float(columns[names[0]][index]):.2f}']
        row += [repr(float(columns[name][index])) for name in names[1:]]
        rows.append(row)

    with atomic_write(path, newline='') as file:
        writer = csv.writer(file)
        writer.writerow(names)
        writer.writerows(rows)
    return path


def read_curves_csv(path: str) -> Dict[str, np.ndarray]:
    """The columns of a curves CSV as float arrays (header = keys)."""
    with open(path, newline='') as file:
        rows = list(csv.reader(file))
    header, body = rows[0], rows[1:]
    return {
        name: np.array([float(row[index]) for row in body])
        for index, name in enumerate(header)
    }


def _figure(width: float = 6.4, height: float = 4.8):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _save(figure, path: str) -> str:
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=120, format='png')
    return path


def plot_pr_curves(precision: np.ndarray, recall: np.ndarray,
                   macro_precision: np.ndarray, macro_recall: np.ndarray,
                   class_names: Sequence[str], path: str) -> str:
    """Precision against recall over the threshold grid: one thin line per
    class (``[N, T]`` arrays; points where a class has neither a true
    positive nor any kept detection, P = R = 0, are left out) and the macro
    average in bold."""
    figure, axes = _figure()
    for index, name in enumerate(class_names):
        keep = (precision[index] > 0) | (recall[index] > 0)
        axes.plot(recall[index][keep], precision[index][keep],
                  linewidth=1, label=name)
    axes.plot(macro_recall, macro_precision, color='black', linewidth=2.5,
              label='all classes (macro)')
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel('recall')
    axes.set_ylabel('precision')
    axes.set_title('precision-recall over score thresholds 0.00..1.00',
                   fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc='best')
    return _save(figure, path)


def plot_f1_curves(thresholds: np.ndarray, f1: np.ndarray,
                   macro_f1: np.ndarray, class_names: Sequence[str],
                   marks: Sequence[Tuple[str, float, float]],
                   path: str) -> str:
    """F1 against the score threshold: one thin line per class (``f1``
    ``[N, T]``), the macro F1 in bold, and labelled points ``marks`` =
    ``[(label, threshold, f1), ...]`` (e.g. the operating and the best
    threshold)."""
    figure, axes = _figure()
    for index, name in enumerate(class_names):
        axes.plot(thresholds, f1[index], linewidth=1, label=name)
    axes.plot(thresholds, macro_f1, color='black', linewidth=2.5,
              label='all classes (macro)')
    _mark(axes, marks)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel('score threshold')
    axes.set_ylabel('F1')
    axes.set_title('F1 against the score threshold', fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc='best')
    return _save(figure, path)


def plot_cost_curve(thresholds: np.ndarray, costs: np.ndarray,
                    marks: Sequence[Tuple[str, float, float]],
                    path: str) -> str:
    """Total decision cost against the (global) score threshold, with
    labelled points ``marks`` = ``[(label, threshold, cost), ...]``; the
    cost axis is logarithmic (symlog) when the costs span more than two
    decades."""
    figure, axes = _figure()
    axes.plot(thresholds, costs, color='tab:red', linewidth=2)
    _mark(axes, marks)
    axes.set_xlim(0, 1)
    positive = costs[np.isfinite(costs) & (costs > 0)]
    if positive.size and positive.max() > 100 * positive.min():
        axes.set_yscale('symlog', linthresh=float(positive.min()))
    axes.set_ylim(bottom=0)
    axes.set_xlabel('score threshold (every class)')
    axes.set_ylabel('total decision cost')
    axes.set_title('decision cost against the score threshold', fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc='upper right')
    return _save(figure, path)


def _mark(axes, marks: Sequence[Tuple[str, float, float]]) -> None:
    styles = ('o', 's', '^', 'D')
    for index, (label, x, y) in enumerate(marks):
        if not np.isfinite(y):
            continue
        axes.plot([x], [y], linestyle='none', marker=styles[index % 4],
                  markersize=8, label=f'{label}: {y:.4g} at {x:.2f}')


def best_on_grid(values: np.ndarray, lower_is_better: bool) -> int:
    """Index of the best finite value; ties go to the highest threshold
    (the last index). -1 when every value is NaN."""
    finite = np.isfinite(values)
    if not finite.any():
        return -1
    target = (np.min if lower_is_better else np.max)(values[finite])
    return int(np.flatnonzero(finite & (values == target))[-1])
