"""Decision math on class-probability vectors and cost matrices.

Framework-free: every function accepts NumPy arrays or PyTorch tensors and
returns the same kind as its ``probs`` argument (a cost matrix given as a
NumPy array is moved to the tensor's device and dtype when ``probs`` is a
tensor). Conventions (see ``csdet.cost.matrix``): ``cost_matrix[t, k]`` is
the cost of predicting class ``k`` for a sample of true class ``t`` (rows =
true class, columns = predicted class), ``probs[..., c]`` is the predicted
probability of class ``c``.

- :func:`expected_costs`: ``R[..., k] = sum_c p_c * C[c, k]``, the expected
  cost (conditional risk) of deciding class ``k``.
- :func:`bayes_min_risk_labels`: ``argmin_k R[..., k]``, the Bayes
  minimum-risk decision (the post-hoc baseline the paper contrasts with).
- :func:`sample_costs`: ``P_i . C[t_i]``, the per-sample terms of the paper's
  cost metric (Eq. 16): ``Cost = (1/F) * sum_i P_i . C[t_i]``.
- :func:`extend_cost_matrix` / :func:`confusion_cost`: an (N+1) x (N+1)
  matrix with a background row/column ("false alarm" / "missed defect") and
  the total cost of a confusion matrix under it.
"""
from typing import Optional, Sequence, Tuple, TypeVar, Union

import numpy as np
import torch

ArrayLike = TypeVar('ArrayLike', np.ndarray, torch.Tensor)
CostLike = Union[np.ndarray, torch.Tensor, Sequence[Sequence[float]]]


def _as_matrix_like(cost_matrix: CostLike,
                    reference: ArrayLike) -> ArrayLike:
    """Return ``cost_matrix`` as the same kind (and device/dtype) as
    ``reference``, checked to be a square 2-D matrix."""
    if isinstance(reference, torch.Tensor):
        matrix = torch.as_tensor(
            np.asarray(cost_matrix.detach().cpu() if isinstance(
                cost_matrix, torch.Tensor) else cost_matrix,
                       dtype=np.float64),
            dtype=reference.dtype if reference.is_floating_point()
            else torch.float64,
            device=reference.device)
    elif isinstance(reference, np.ndarray):
        matrix = np.asarray(
            cost_matrix.detach().cpu().numpy() if isinstance(
                cost_matrix, torch.Tensor) else cost_matrix,
            dtype=np.float64)
    else:
        raise TypeError('probs must be a numpy.ndarray or torch.Tensor, got '
                        f'{type(reference).__name__}')
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError('cost_matrix must be a square 2-D matrix '
                         '(rows = true class, columns = predicted class), '
                         f'got shape {tuple(matrix.shape)}')
    return matrix


def _check_probs(probs: ArrayLike, num_classes: int) -> None:
    if probs.ndim < 1 or probs.shape[-1] != num_classes:
        raise ValueError(
            f'probs must have shape [..., {num_classes}] to match the '
            f'{num_classes} x {num_classes} cost_matrix, got shape '
            f'{tuple(probs.shape)}')


def expected_costs(probs: ArrayLike, cost_matrix: CostLike) -> ArrayLike:
    """Expected cost of predicting each class: ``probs @ cost_matrix``.

    Args:
        probs: ``[..., N]`` class probabilities (softmax or independent
            sigmoids; they need not sum to 1).
        cost_matrix: ``[N, N]``, rows = true class, columns = predicted.

    Returns:
        ``[..., N]``: entry ``k`` is ``sum_c probs[..., c] * C[c, k]``, the
        conditional risk of deciding class ``k``. Same kind as ``probs``.
    """
    matrix = _as_matrix_like(cost_matrix, probs)
    _check_probs(probs, matrix.shape[0])
    if isinstance(probs, torch.Tensor):
        if not probs.is_floating_point():
            probs = probs.to(matrix.dtype)
        return probs @ matrix
    return np.asarray(probs, dtype=np.float64) @ matrix


def bayes_min_risk_labels(probs: ArrayLike,
                          cost_matrix: CostLike) -> ArrayLike:
    """Bayes minimum-risk decisions: ``argmin_k sum_c p_c * C[c, k]``.

    Ties go to the lowest class index (NumPy and PyTorch ``argmin`` both
    return the first minimum).

    Args:
        probs: ``[..., N]`` class probabilities.
        cost_matrix: ``[N, N]``, rows = true class, columns = predicted.

    Returns:
        ``[...]`` integer labels (int64), same kind as ``probs``.
    """
    risks = expected_costs(probs, cost_matrix)
    if isinstance(risks, torch.Tensor):
        return risks.argmin(dim=-1)
    return risks.argmin(axis=-1).astype(np.int64)


def sample_costs(probs: ArrayLike, true_labels: Union[ArrayLike,
                                                      Sequence[int]],
                 cost_matrix: CostLike) -> ArrayLike:
    """Per-sample expected misclassification cost ``P_i . C[t_i]``.

    These are the terms of the paper's cost metric (Eq. 16),
    ``Cost = (1/F) * sum_i P_i . C[t_i]``, so ``sample_costs(...).mean()``
    is that metric over the F samples.

    Args:
        probs: ``[F, N]`` (or ``[..., N]``) class-probability vectors.
        true_labels: ``[F]`` (or ``[...]``) true class indices in ``[0, N)``.
        cost_matrix: ``[N, N]``, rows = true class, columns = predicted.

    Returns:
        ``[F]`` (or ``[...]``) costs, same kind as ``probs``.
    """
    matrix = _as_matrix_like(cost_matrix, probs)
    num_classes = matrix.shape[0]
    _check_probs(probs, num_classes)
    if isinstance(probs, torch.Tensor):
        labels = torch.as_tensor(true_labels, device=probs.device).long()
        if labels.shape != probs.shape[:-1]:
            raise ValueError(f'true_labels shape {tuple(labels.shape)} must '
                             f'equal probs shape without the class axis '
                             f'{tuple(probs.shape[:-1])}')
        if labels.numel() and (labels.min() < 0
                               or labels.max() >= num_classes):
            raise ValueError(f'true_labels must lie in [0, {num_classes}), '
                             f'got range [{int(labels.min())}, '
                             f'{int(labels.max())}]')
        if not probs.is_floating_point():
            probs = probs.to(matrix.dtype)
        return (probs * matrix[labels]).sum(dim=-1)
    labels = np.asarray(true_labels, dtype=np.int64)
    if labels.shape != probs.shape[:-1]:
        raise ValueError(f'true_labels shape {labels.shape} must equal probs '
                         f'shape without the class axis {probs.shape[:-1]}')
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f'true_labels must lie in [0, {num_classes}), got '
                         f'range [{labels.min()}, {labels.max()}]')
    return (np.asarray(probs, dtype=np.float64) * matrix[labels]).sum(axis=-1)


def _per_class_vector(value: Union[float, Sequence[float], np.ndarray],
                      num_classes: int, name: str) -> np.ndarray:
    vector = np.asarray(value, dtype=np.float64)
    if vector.ndim == 0:
        vector = np.full(num_classes, float(vector))
    if vector.shape != (num_classes, ):
        raise ValueError(f'{name} must be a number or a list of '
                         f'{num_classes} per-class costs, got shape '
                         f'{vector.shape}')
    if (vector < 0).any() or not np.isfinite(vector).all():
        raise ValueError(f'{name} must be finite and non-negative, got '
                         f'{vector.tolist()}')
    return vector


def extend_cost_matrix(
        cost_matrix: CostLike,
        missed_costs: Optional[Union[float, Sequence[float]]] = None,
        false_alarm_costs: Optional[Union[float, Sequence[float]]] = None
) -> np.ndarray:
    """Add a background row and column to an N x N cost matrix.

    The result E is (N+1) x (N+1) with background at index N:
    ``E[:N, :N] = C``; ``E[t, N]`` = cost of missing a ground truth of class
    ``t`` (no detection); ``E[N, k]`` = cost of a false alarm predicted as
    class ``k`` (detection on background); ``E[N, N] = 0``.

    Args:
        cost_matrix: ``[N, N]`` object-class cost matrix.
        missed_costs: number or N values; None = each row's maximum
            ``max_k C[t, k]`` (a miss costs as much as the worst confusion
            of that true class).
        false_alarm_costs: number or N values; None = each column's maximum
            ``max_t C[t, k]`` (a false alarm of class k costs as much as the
            worst wrong call of class k).

    Returns:
        ``np.ndarray`` of shape ``[N+1, N+1]`` (float64).
    """
    matrix = _as_matrix_like(cost_matrix, np.zeros(0))
    num_classes = matrix.shape[0]
    missed = (matrix.max(axis=1) if missed_costs is None else
              _per_class_vector(missed_costs, num_classes, 'missed_costs'))
    false_alarm = (matrix.max(axis=0) if false_alarm_costs is None else
                   _per_class_vector(false_alarm_costs, num_classes,
                                     'false_alarm_costs'))
    extended = np.zeros((num_classes + 1, num_classes + 1))
    extended[:num_classes, :num_classes] = matrix
    extended[:num_classes, num_classes] = missed
    extended[num_classes, :num_classes] = false_alarm
    return extended


def confusion_cost(confusion: Union[np.ndarray, Sequence[Sequence[float]]],
                   cost_matrix: CostLike) -> float:
    """Total cost of a confusion matrix: ``sum_{t,k} M[t, k] * C[t, k]``.

    Args:
        confusion: counts, rows = true class, columns = predicted class
            (for example the (N+1) x (N+1) matrix with a background class).
        cost_matrix: matrix of the same shape.
    """
    counts = np.asarray(confusion, dtype=np.float64)
    matrix = _as_matrix_like(cost_matrix, np.zeros(0))
    if counts.shape != matrix.shape:
        raise ValueError(f'confusion shape {counts.shape} must equal '
                         f'cost_matrix shape {matrix.shape}')
    return float((counts * matrix).sum())


def background_as_negative_costs(
        classes: Sequence[str],
        positive_classes: Sequence[str],
        coefficients: Sequence[float],
        cost_matrix: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Missed / false-alarm costs that treat background as one more
    negative class of the paper's rule (Eq. 8).

    A miss of class t is "t predicted as background": lambda_PN if t is
    positive, lambda_NN if not. A false alarm of class k is "background
    predicted as k": lambda_NP if k is positive, lambda_NN if not. Both are
    scaled as ``cost_matrix`` was by its normalisation.

    Returns:
        ``(missed [N], false_alarm [N])``, float64.
    """
    from .matrix import build_cost_matrix

    positive = ([positive_classes] if isinstance(positive_classes, str) else
                list(positive_classes))
    lambda_np, lambda_pn, lambda_nn, _ = (float(v) for v in coefficients)
    raw = build_cost_matrix(list(classes), positive, coefficients,
                            normalize='none', allow_degenerate=True)
    scale = cost_matrix.sum() / raw.sum() if raw.sum() > 0 else 1.0
    is_positive = np.array([name in positive for name in classes])
    missed = np.where(is_positive, lambda_pn, lambda_nn) * scale
    false_alarm = np.where(is_positive, lambda_np, lambda_nn) * scale
    return missed, false_alarm


def deployment_cost_matrix(
        classes: Sequence[str],
        positive_classes: Optional[Sequence[str]] = None,
        group: Optional[str] = None,
        coefficients: Optional[Sequence[float]] = None,
        cost_matrix: Optional[Union[str, Sequence, np.ndarray]] = None,
        normalize: Optional[str] = 'max',
        missed_costs: Optional[Union[float, Sequence[float]]] = None,
        false_alarm_costs: Optional[Union[float, Sequence[float]]] = None
) -> np.ndarray:
    """The (N+1) x (N+1) matrix a deployed detector's decisions are priced
    with (background last), from the same spec as the loss.

    With the class-based spec, misses and false alarms default to
    :func:`background_as_negative_costs`; with an explicit ``cost_matrix``
    to :func:`extend_cost_matrix`'s row / column maxima.
    """
    from .matrix import DEFAULT_GROUP, PAPER_GROUPS, resolve_cost_matrix

    matrix = resolve_cost_matrix(
        cost_matrix=cost_matrix, classes=classes,
        positive_classes=positive_classes, coefficients=coefficients,
        group=group, normalize=normalize)
    if cost_matrix is None and positive_classes is not None:
        if coefficients is None:
            coefficients = PAPER_GROUPS[str(group or DEFAULT_GROUP).lower()]
        auto_missed, auto_false_alarm = background_as_negative_costs(
            classes, positive_classes, coefficients, matrix)
        missed_costs = auto_missed if missed_costs is None else missed_costs
        false_alarm_costs = (auto_false_alarm if false_alarm_costs is None
                             else false_alarm_costs)
    return extend_cost_matrix(matrix, missed_costs, false_alarm_costs)
