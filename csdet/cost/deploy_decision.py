"""Deployment decision rules: what the line does with each detection.

NumPy only. A rule maps detections (score ``s``, class probabilities
``p [N]``) to a label in ``[0, N]``, ``N`` = ``NO_DEFECT`` ("reject"), and
to the expected cost of that decision under the extended matrix ``E``
(``(N+1) x (N+1)``, background last) of
:func:`csdet.cost.decision.extend_cost_matrix`::

    P(t) = s * p[t] / sum(p)   (uniform if sum(p) == 0),   P(bg) = 1 - s
    R(k) = sum_t P(t) E[t, k] + P(bg) E[N, k]     (k < N)
    R(N) = sum_t P(t) E[t, N]                     ("no defect")

Rules: :func:`min_risk_decisions` (``argmin_k R(k)``, paper Eq. 1 with a
reject option), :func:`argmax_decisions` (model label when ``score >=
score_thr``), :func:`threshold_decisions` (per-class thresholds), and
:func:`build_decision_rule` (one callable from ``'argmax'``,
``'min-risk'``, or a thresholds JSON path or dict). Thresholds compare in
float32, as ``DecisionCostMetric`` does. Why this posterior: docs/method.md,
section 5.
"""
import json
import math
import os
from pathlib import Path
from typing import (Any, Callable, Dict, Mapping, NamedTuple, Optional,
                    Sequence, Union)

import mmengine
import numpy as np

from csdet.utils.atomic import atomic_write

PathLike = Union[str, os.PathLike]
RuleSpec = Union[str, os.PathLike, Mapping[str, Any]]

#: Spec names accepted by :func:`build_decision_rule` besides thresholds.
RULE_NAMES = ('argmax', 'min-risk')
DEFAULT_SCORE_THR = 0.25


class Decisions(NamedTuple):
    """Per-detection decisions.

    ``labels`` ``[D]`` int64 in ``[0, N]`` (``N`` = no defect);
    ``expected_costs`` ``[D]`` float64, the risk of that decision.
    """
    labels: np.ndarray
    expected_costs: np.ndarray


def _extended_matrix(extended_cost_matrix: Any) -> np.ndarray:
    matrix = np.asarray(extended_cost_matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or len(
            matrix) < 2:
        raise ValueError(
            'extended_cost_matrix must be (N+1) x (N+1) with background '
            f'last (see csdet.cost.decision.extend_cost_matrix), got shape '
            f'{matrix.shape}')
    if not np.isfinite(matrix).all() or (matrix < 0).any():
        raise ValueError('extended_cost_matrix must be finite and '
                         f'non-negative, got {matrix.tolist()}')
    return matrix


def _scores(scores: Any, num_dets: Optional[int] = None) -> np.ndarray:
    values = np.asarray(scores, dtype=np.float32)
    if values.ndim != 1:
        raise ValueError(f'scores must be 1-D [D], got shape {values.shape}')
    if num_dets is not None and len(values) != num_dets:
        raise ValueError(f'scores has {len(values)} entries but there are '
                         f'{num_dets} detections')
    bad = np.isnan(values) | (values < 0) | (values > 1)
    if bad.any():
        raise ValueError('scores must lie in [0, 1] with no NaN, got '
                         f'{values[bad][:5].tolist()}')
    return values


def _cls_probs(cls_probs: Any, num_classes: int) -> np.ndarray:
    probs = np.asarray(cls_probs, dtype=np.float64)
    if probs.ndim == 1 and probs.size == 0:
        probs = probs.reshape(0, num_classes)
    if probs.ndim != 2 or probs.shape[1] != num_classes:
        raise ValueError(
            f'cls_probs must be [D, {num_classes}] (one column per object '
            f'class of the {num_classes + 1} x {num_classes + 1} extended '
            f'cost matrix), got shape {probs.shape}')
    if np.isnan(probs).any() or (probs < 0).any() or (probs > 1).any():
        raise ValueError('cls_probs must be probabilities in [0, 1] (no '
                         'NaN); pass sigmoid/softmax outputs, not logits')
    return probs


def _labels(labels: Any, num_dets: int, num_classes: int) -> np.ndarray:
    values = np.asarray(labels)
    if values.ndim != 1 or len(values) != num_dets:
        raise ValueError(f'labels must be [D] with D={num_dets}, got shape '
                         f'{values.shape}')
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f'labels must be integers, got {values.dtype}')
    values = values.astype(np.int64)
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(f'labels must lie in [0, {num_classes}), got range '
                         f'[{values.min()}, {values.max()}]')
    return values


def posterior(cls_probs: Any, scores: Any) -> np.ndarray:
    """``[D, N+1]`` posterior of each detection (module docstring): columns
    0..N-1 the object classes, column N background; rows sum to 1.

    Raises:
        ValueError: shapes disagree, NaN, values outside [0, 1].
    """
    scores = _scores(scores).astype(np.float64)
    probs = np.asarray(cls_probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f'cls_probs must be [D, N], got shape {probs.shape}')
    probs = _cls_probs(probs, probs.shape[1])
    if len(probs) != len(scores):
        raise ValueError(f'cls_probs has {len(probs)} rows but scores has '
                         f'{len(scores)} entries')
    totals = probs.sum(axis=1, keepdims=True)
    uniform = np.full_like(probs, 1.0 / max(probs.shape[1], 1))
    given_object = np.divide(probs, totals, out=uniform, where=totals > 0)
    return np.concatenate(
        [scores[:, None] * given_object, 1.0 - scores[:, None]], axis=1)


def decision_risks(cls_probs: Any, scores: Any,
                   extended_cost_matrix: Any) -> np.ndarray:
    """``[D, N+1]`` expected cost ``R(k)`` of every decision k (column N =
    "no defect"): ``posterior @ E``."""
    matrix = _extended_matrix(extended_cost_matrix)
    probs = _cls_probs(cls_probs, len(matrix) - 1)
    return posterior(probs, scores) @ matrix


def min_risk_decisions(cls_probs: Any, scores: Any,
                       extended_cost_matrix: Any) -> Decisions:
    """Bayes minimum-risk decision with a "no defect" option.

    Args:
        cls_probs: ``[D, N]`` class probabilities of the detections.
        scores: ``[D]`` detection scores in [0, 1].
        extended_cost_matrix: ``[N+1, N+1]``, background last.

    Returns:
        :class:`Decisions`: ``argmin_k R(k)`` over ``k = 0..N`` (N = no
        defect) and its risk. Ties go to the lowest index, so a class wins a
        tie against "no defect".

    Raises:
        ValueError: shape mismatch, NaN or out-of-range values.
    """
    risks = decision_risks(cls_probs, scores, extended_cost_matrix)
    labels = risks.argmin(axis=1).astype(np.int64)
    return Decisions(labels, risks[np.arange(len(labels)), labels])


def _decide_where(labels: np.ndarray, keep: np.ndarray, cls_probs: Any,
                  scores: np.ndarray, matrix: np.ndarray) -> Decisions:
    decided = np.where(keep, labels, len(matrix) - 1).astype(np.int64)
    risks = decision_risks(cls_probs, scores, matrix)
    return Decisions(decided, risks[np.arange(len(decided)), decided])


def argmax_decisions(labels: Any, scores: Any, score_thr: float,
                     cls_probs: Any,
                     extended_cost_matrix: Any) -> Decisions:
    """The model's label when ``score >= score_thr``, else "no defect".

    Args:
        labels: ``[D]`` the model's labels in ``[0, N)``.
        scores: ``[D]`` scores in [0, 1].
        score_thr: global threshold in [0, 1] (YOLOv5 deploys 0.25).
        cls_probs, extended_cost_matrix: as :func:`min_risk_decisions`,
            for the expected costs.
    """
    return threshold_decisions(
        labels, scores,
        np.full(len(_extended_matrix(extended_cost_matrix)) - 1,
                _threshold(score_thr, 'score_thr')), cls_probs,
        extended_cost_matrix)


def threshold_decisions(labels: Any, scores: Any,
                        per_class_thresholds: Any, cls_probs: Any,
                        extended_cost_matrix: Any) -> Decisions:
    """The model's label when ``score >= thresholds[label]``, else "no
    defect".

    Args:
        labels: ``[D]`` the model's labels in ``[0, N)``.
        scores: ``[D]`` scores in [0, 1].
        per_class_thresholds: ``[N]`` thresholds in [0, 1], class order.
        cls_probs, extended_cost_matrix: as :func:`min_risk_decisions`.
    """
    matrix = _extended_matrix(extended_cost_matrix)
    num_classes = len(matrix) - 1
    thresholds = np.asarray(per_class_thresholds, dtype=np.float64)
    if thresholds.shape != (num_classes, ):
        raise ValueError(f'per_class_thresholds must hold {num_classes} '
                         f'values (one per class), got shape '
                         f'{thresholds.shape}')
    for index, value in enumerate(thresholds):
        _threshold(value, f'per_class_thresholds[{index}]')
    scores = _scores(scores)
    labels = _labels(labels, len(scores), num_classes)
    keep = scores >= thresholds.astype(np.float32)[labels]
    return _decide_where(labels, keep, cls_probs, scores, matrix)


def _threshold(value: Any, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{name} must be a number in [0, 1], got '
                         f'{value!r}') from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f'{name} must be a number in [0, 1], got {value}')
    return value


# ---------------------------------------------------------------- rules
class DecisionRule:
    """A decision rule bound to its cost matrix.

    ``rule(labels, scores, cls_probs) -> Decisions`` for the detections of
    one image (or any batch). ``name`` is ``'argmax'``, ``'min-risk'`` or
    ``'thresholds'``; ``thresholds`` is the ``[N]`` array the rule applies
    (None for min-risk).
    """

    def __init__(self, name: str, decide: Callable[..., Decisions],
                 extended_cost_matrix: np.ndarray,
                 thresholds: Optional[np.ndarray] = None,
                 source: Optional[str] = None) -> None:
        self.name = name
        self._decide = decide
        self.extended_cost_matrix = extended_cost_matrix
        self.thresholds = thresholds
        self.source = source

    @property
    def no_defect(self) -> int:
        """The label meaning "no defect" (N)."""
        return len(self.extended_cost_matrix) - 1

    def __call__(self, labels: Any, scores: Any,
                 cls_probs: Any) -> Decisions:
        return self._decide(labels, scores, cls_probs)

    def __repr__(self) -> str:
        extra = '' if self.source is None else f', source={self.source!r}'
        return f'DecisionRule({self.name!r}{extra})'


def build_decision_rule(spec: RuleSpec,
                        extended_cost_matrix: Any,
                        classes: Optional[Sequence[str]] = None,
                        score_thr: float = DEFAULT_SCORE_THR) -> DecisionRule:
    """Build a :class:`DecisionRule` from a spec.

    Args:
        spec: ``'argmax'`` (global ``score_thr``), ``'min-risk'``, the path
            of a thresholds JSON file, or its content as a dict:
            ``{"thresholds": {class_name: thr, ...}, ...}`` with every class
            exactly once and ``0 <= thr <= 1`` (other keys are ignored).
        extended_cost_matrix: ``[N+1, N+1]``, background last.
        classes: the N class names in model order (needed for thresholds).
        score_thr: threshold of ``'argmax'``.

    Raises:
        FileNotFoundError / ValueError: with the file name and the fix.
    """
    matrix = _extended_matrix(extended_cost_matrix)
    if isinstance(spec, str) and spec in RULE_NAMES:
        if spec == 'min-risk':
            return DecisionRule(
                'min-risk',
                lambda labels, scores, probs: min_risk_decisions(
                    probs, scores, matrix), matrix)
        thr = _threshold(score_thr, 'score_thr')
        thresholds = np.full(len(matrix) - 1, thr)
        return DecisionRule(
            'argmax',
            lambda labels, scores, probs: argmax_decisions(
                labels, scores, thr, probs, matrix), matrix, thresholds)
    if isinstance(spec, Mapping):
        content, source = spec, 'thresholds dict'
    elif isinstance(spec, (str, os.PathLike)):
        content, source = _read_thresholds_file(Path(spec)), str(spec)
    else:
        raise TypeError(f"decision rule spec must be 'argmax', 'min-risk', "
                        f'a thresholds JSON path or dict, got {spec!r}')
    thresholds = class_thresholds(content, classes, source)
    if len(thresholds) != len(matrix) - 1:
        raise ValueError(f'{source}: {len(thresholds)} classes but the cost '
                         f'matrix is for {len(matrix) - 1}')
    return DecisionRule(
        'thresholds',
        lambda labels, scores, probs: threshold_decisions(
            labels, scores, thresholds, probs, matrix), matrix, thresholds,
        source)


def _read_thresholds_file(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(
            f"decision rule {str(path)!r} is neither 'argmax' nor "
            "'min-risk' nor an existing thresholds JSON file; tune one with "
            'tools/tune_thresholds.py or check the path')
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f'{path}: not valid JSON ({error}); expected '
                         '{"thresholds": {class_name: thr, ...}}') from None


def class_thresholds(content: Any, classes: Optional[Sequence[str]],
                     source: str = 'thresholds') -> np.ndarray:
    """``[N]`` thresholds in ``classes`` order from ``{"thresholds":
    {name: thr}}``; ``source`` (a file name) is used in the messages.

    Raises:
        ValueError: no ``thresholds`` mapping, unknown or missing class,
            threshold not a number in [0, 1], ``classes`` not given.
    """
    if classes is None:
        raise ValueError(f'{source}: class names are needed to read '
                         'per-class thresholds; pass classes=[...] (the '
                         "config's dataset classes)")
    if not isinstance(content, Mapping) or not isinstance(
            content.get('thresholds'), Mapping):
        raise ValueError(f'{source}: expected an object with a "thresholds" '
                         'mapping {class_name: threshold}, got '
                         f'{type(content).__name__}'
                         + (f' with keys {sorted(content)}' if isinstance(
                             content, Mapping) else ''))
    given = content['thresholds']
    unknown = sorted(set(given) - set(classes))
    if unknown:
        raise ValueError(f'{source}: unknown classes {unknown}; the model '
                         f'classes are {list(classes)} (check the spelling '
                         'or re-tune for this model)')
    missing = [name for name in classes if name not in given]
    if missing:
        raise ValueError(f'{source}: no threshold for classes {missing}; '
                         'give one per class (0.25 is the usual default)')
    return np.array([
        _threshold(given[name], f'{source}: threshold of {name!r}')
        for name in classes
    ])


def write_thresholds_json(payload: Mapping[str, Any],
                          path: PathLike) -> Path:
    """Write a thresholds payload (``{"thresholds": {...}, ...}``) as JSON
    (NumPy arrays and scalars as lists and numbers), through a temporary
    file renamed into place; returns the path."""
    path = Path(path)
    class_thresholds(payload, list(payload.get('thresholds', {})), str(path))
    with atomic_write(path) as file:
        mmengine.dump(payload, file, file_format='json', indent=2)
        file.write('\n')
    return path


def decision_counts(decisions: Sequence[Decisions],
                    classes: Sequence[str]) -> Dict[str, int]:
    """Number of decisions per decided class (and ``'no defect'``) over a
    list of per-image :class:`Decisions`."""
    names = list(classes) + ['no defect']
    counts = np.zeros(len(names), dtype=np.int64)
    for decision in decisions:
        counts += np.bincount(decision.labels, minlength=len(names))[:len(
            names)]
    return dict(zip(names, counts.tolist()))
