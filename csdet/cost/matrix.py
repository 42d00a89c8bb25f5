"""Cost (decision-risk) matrices for cost-sensitive classification.

NumPy only. ``cost_matrix[t, j]`` is the cost of calling a true class ``t``
class ``j`` (rows true, columns predicted, in ``classes`` order); the
diagonal is zero and every entry finite and non-negative.

Paper Eq. 7-8 (Liu, Gao, Li, Sensors 2023), positive set P, negative set N::

    C[i, j] = lambda_NP  if i in N, j in P   (false acceptance)
              lambda_PN  if i in P, j in N   (false rejection)
              lambda_NN  if i in N, j in N, i != j
              lambda_PP  if i in P, j in P, i != j
              0          if i == j

``normalize`` is ``'max'`` (default), ``'sum'`` or ``'none'`` and applies to
explicit matrices too, so the loss and the metrics see the same matrix.
Why these options, and no per-row one: docs/method.md, section 1.
"""
import csv
import json
import math
import os
import warnings
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

#: Paper Table 1: (lambda_NP, lambda_PN, lambda_NN, lambda_PP) for the risk
#: coefficient groups a-d, each 25k^3 : 5k^2 : k : 1 for k = 2..5.
PAPER_GROUPS: Dict[str, Tuple[float, float, float, float]] = {
    'a': (200, 20, 2, 1),
    'b': (675, 45, 3, 1),
    'c': (1600, 80, 4, 1),
    'd': (3125, 125, 5, 1),
}
DEFAULT_GROUP = 'a'
COEFFICIENT_NAMES = ('lambda_NP', 'lambda_PN', 'lambda_NN', 'lambda_PP')
NORMALIZE_MODES = ('max', 'sum', 'none')

PathLike = Union[str, os.PathLike]
MatrixLike = Union[np.ndarray, Sequence[Sequence[float]]]


def _check_class_names(names: Sequence[str], argument: str) -> Tuple[str, ...]:
    """Return ``names`` as a tuple of strings, refusing duplicates."""
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(f'{argument} must be a list of class names, got '
                        f'{names!r}')
    names = tuple(names)
    not_strings = [name for name in names if not isinstance(name, str)]
    if not_strings:
        raise TypeError(f'{argument} must hold class names (str), got '
                        f'{not_strings!r}')
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f'{argument} has duplicate class names: '
                         f'{duplicates}; list each class once')
    return names


def _check_coefficients(
        coefficients: Sequence[float]) -> Tuple[float, float, float, float]:
    """Validate the four paper coefficients (NP, PN, NN, PP)."""
    try:
        values = tuple(float(value) for value in coefficients)
    except (TypeError, ValueError):
        raise TypeError('coefficients must be four numbers (lambda_NP, '
                        f'lambda_PN, lambda_NN, lambda_PP), got '
                        f'{coefficients!r}') from None
    if len(values) != 4:
        raise ValueError('coefficients must be four numbers (lambda_NP, '
                         'lambda_PN, lambda_NN, lambda_PP), got '
                         f'{len(values)}: {coefficients!r}')
    named = dict(zip(COEFFICIENT_NAMES, values))
    if not all(math.isfinite(value) for value in values):
        raise ValueError(f'coefficients must be finite, got {named}')
    if any(value < 0 for value in values):
        raise ValueError(f'coefficients must be non-negative, got {named}')
    if not values[0] > values[1] > values[2] > values[3]:
        warnings.warn(
            'cost coefficients do not follow the paper\'s order lambda_NP > '
            f'lambda_PN > lambda_NN > lambda_PP (got {named}); the matrix '
            'is built as given', UserWarning, stacklevel=3)
    return values  # type: ignore[return-value]


def normalize_cost_matrix(matrix: MatrixLike,
                          normalize: Optional[str] = 'max') -> np.ndarray:
    """Return a normalised float64 copy of ``matrix``.

    Args:
        matrix: a valid cost matrix (see :func:`validate_cost_matrix`).
        normalize: ``'max'`` (divide by the largest entry), ``'sum'`` (divide
            by the sum of entries) or ``'none'``/``None`` (copy as is).
    """
    mode = 'none' if normalize is None else str(normalize).lower()
    if mode not in NORMALIZE_MODES:
        raise ValueError(f'normalize must be one of {NORMALIZE_MODES}, got '
                         f'{normalize!r}')
    matrix = np.array(matrix, dtype=np.float64)
    if mode == 'none':
        return matrix
    scale = matrix.max() if mode == 'max' else matrix.sum()
    if not scale > 0:
        raise ValueError(f'cannot normalise (normalize={mode!r}) a cost '
                         'matrix whose entries are all zero; give non-zero '
                         "coefficients or use normalize='none'")
    return matrix / scale


def build_cost_matrix(classes: Sequence[str],
                      positive_classes: Union[str, Sequence[str]],
                      coefficients: Sequence[float] = PAPER_GROUPS['a'],
                      normalize: Optional[str] = 'max',
                      allow_degenerate: bool = False) -> np.ndarray:
    """Build the paper's cost matrix (Eq. 8) from a positive/negative split.

    Args:
        classes: all class names, in dataset (model output) order.
        positive_classes: names of the positive ("gallery") classes; a single
            name may be given as a string.
        coefficients: ``(lambda_NP, lambda_PN, lambda_NN, lambda_PP)``;
            default the paper's group a ``(200, 20, 2, 1)``.
        normalize: ``'max'`` (default), ``'sum'`` or ``'none'``; see the
            module docstring.
        allow_degenerate: with no positive class or with every class
            positive, the NP/PN coefficients are unused and every
            off-diagonal entry equals one coefficient (lambda_NN resp.
            lambda_PP), i.e. a plain 0-1 cost that carries no
            cost-sensitivity. That is almost always a configuration mistake,
            so it is refused unless this is True.

    Returns:
        ``np.ndarray`` float64 of shape ``[N, N]``, N = ``len(classes)``.
    """
    classes = _check_class_names(classes, 'classes')
    if not classes:
        raise ValueError('classes is empty; give the dataset class names')
    if isinstance(positive_classes, str):
        positive_classes = [positive_classes]
    positive_classes = _check_class_names(positive_classes,
                                          'positive_classes')
    unknown = [name for name in positive_classes if name not in classes]
    if unknown:
        raise ValueError(f'positive_classes {unknown} are not in classes '
                         f'{list(classes)}; check the spelling')
    num_positive = len(positive_classes)
    if num_positive in (0, len(classes)) and not allow_degenerate:
        which = 'no class' if num_positive == 0 else 'every class'
        raise ValueError(
            f'positive_classes makes {which} positive, so lambda_NP and '
            'lambda_PN are never used and every off-diagonal cost is the '
            'same (a cost-insensitive 0-1 matrix); pick a proper subset of '
            f'{list(classes)}, or pass allow_degenerate=True if this is '
            'intended')
    lambda_np, lambda_pn, lambda_nn, lambda_pp = _check_coefficients(
        coefficients)

    is_positive = np.array([name in positive_classes for name in classes])
    true_pos = is_positive[:, None]
    pred_pos = is_positive[None, :]
    matrix = np.select(
        [~true_pos & pred_pos, true_pos & ~pred_pos, ~true_pos & ~pred_pos],
        [lambda_np, lambda_pn, lambda_nn],
        default=lambda_pp).astype(np.float64)
    np.fill_diagonal(matrix, 0.0)
    return normalize_cost_matrix(matrix, normalize)


def validate_cost_matrix(matrix: MatrixLike,
                         num_classes: Optional[int] = None,
                         name: str = 'cost_matrix') -> np.ndarray:
    """Check that ``matrix`` is a usable cost matrix; return a float64 copy.

    Refuses (ValueError) non-numeric or ragged input, a non-square or
    non-2-D shape, a shape other than ``[num_classes, num_classes]`` when
    ``num_classes`` is given, NaN/inf, negative entries and a non-zero
    diagonal. ``name`` (e.g. a file path) is used in the messages.
    """
    if hasattr(matrix, 'detach'):  # torch.Tensor without importing torch
        matrix = matrix.detach().cpu().numpy()
    try:
        array = np.array(matrix, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f'{name} must be an N x N matrix of numbers (a list '
                         f'of equal-length rows): {error}') from None
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise ValueError(f'{name} must be a square N x N matrix (rows = true '
                         f'class, columns = predicted class), got shape '
                         f'{array.shape}')
    if num_classes is not None and array.shape != (num_classes, num_classes):
        raise ValueError(f'{name} has shape {array.shape} but there are '
                         f'{num_classes} classes; give a {num_classes} x '
                         f'{num_classes} matrix')
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array)).tolist()
        raise ValueError(f'{name} has NaN/inf entries at (row, col) {bad}')
    if (array < 0).any():
        bad = np.argwhere(array < 0).tolist()
        raise ValueError(f'{name} has negative entries at (row, col) {bad}; '
                         'costs must be >= 0')
    diagonal = np.diag(array)
    if (diagonal != 0).any():
        raise ValueError(f'{name} has a non-zero diagonal {diagonal.tolist()}'
                         '; a correct classification must cost 0 (subtract '
                         'the diagonal or set it to 0)')
    return array


def _read_json(path: Path) -> Tuple[object, Optional[Sequence[str]]]:
    try:
        content = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f'{path}: not valid JSON ({error})') from None
    if isinstance(content, dict):
        if 'matrix' not in content:
            raise ValueError(f'{path}: a JSON object must have a "matrix" key '
                             '(and optionally "classes"), got keys '
                             f'{sorted(content)}')
        return content['matrix'], content.get('classes')
    return content, None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path) -> Tuple[object, Optional[Sequence[str]]]:
    with open(path, newline='') as file:
        rows = [[cell.strip() for cell in row] for row in csv.reader(file)]
    rows = [row for row in rows if any(row)]  # skip blank lines
    if not rows:
        raise ValueError(f'{path}: empty CSV file')
    header = None
    if not all(_is_number(cell) for cell in rows[0]):
        header, rows = rows[0], rows[1:]
    for index, row in enumerate(rows):
        if not all(_is_number(cell) for cell in row):
            raise ValueError(f'{path}: row {index + 1 + (header is not None)} '
                             f'has non-numeric cells {row}; only the first '
                             'row may hold class names')
    return [[float(cell) for cell in row] for row in rows], header


def load_cost_matrix(path_or_list: Union[PathLike, MatrixLike],
                     num_classes: Optional[int] = None,
                     classes: Optional[Sequence[str]] = None) -> np.ndarray:
    """Load and validate an explicit cost matrix (not normalised).

    Args:
        path_or_list: a matrix (list of rows, array or tensor) or the path of
            a ``.json`` file (a list of rows, or ``{"classes": [...],
            "matrix": [[...]]}``) or a ``.csv`` file (rows of numbers,
            optionally preceded by a header row of class names).
        num_classes: expected N, checked when given.
        classes: expected class names in order; checked against class names
            stored in the file (which must then match exactly, same order)
            and implies ``num_classes = len(classes)``.

    Returns:
        ``np.ndarray`` float64 ``[N, N]``.
    """
    if classes is not None:
        classes = _check_class_names(classes, 'classes')
        if num_classes is not None and num_classes != len(classes):
            raise ValueError(f'num_classes={num_classes} but classes has '
                             f'{len(classes)} names')
        num_classes = len(classes)
    name = 'cost_matrix'
    file_classes = None
    matrix = path_or_list
    if isinstance(path_or_list, (str, os.PathLike)):
        path = Path(path_or_list)
        name = str(path)
        if not path.is_file():
            raise FileNotFoundError(f'cost matrix file not found: {path}')
        suffix = path.suffix.lower()
        if suffix == '.json':
            matrix, file_classes = _read_json(path)
        elif suffix == '.csv':
            matrix, file_classes = _read_csv(path)
        else:
            raise ValueError(f'{path}: unsupported cost matrix file type '
                             f'{suffix!r}; use .json or .csv')
    if file_classes is not None:
        file_classes = _check_class_names(file_classes,
                                          f'{name} class names')
        if classes is not None and file_classes != classes:
            raise ValueError(f'{name} lists classes {list(file_classes)} but '
                             f'the dataset classes are {list(classes)}; '
                             'the order must match exactly')
        if num_classes is not None and len(file_classes) != num_classes:
            raise ValueError(f'{name} lists {len(file_classes)} classes but '
                             f'{num_classes} are expected')
    matrix = validate_cost_matrix(matrix, num_classes, name=name)
    if file_classes is not None and matrix.shape[0] != len(file_classes):
        raise ValueError(f'{name} lists {len(file_classes)} class names but '
                         f'the matrix is {matrix.shape[0]} x '
                         f'{matrix.shape[1]}')
    return matrix


def resolve_cost_matrix(cost_matrix: Optional[Union[PathLike,
                                                    MatrixLike]] = None,
                        classes: Optional[Sequence[str]] = None,
                        positive_classes: Optional[Sequence[str]] = None,
                        coefficients: Optional[Sequence[float]] = None,
                        group: Optional[str] = None,
                        normalize: Optional[str] = 'max',
                        allow_degenerate: bool = False) -> np.ndarray:
    """Single entry point (loss and metrics) to get the cost matrix.

    Either an explicit matrix::

        resolve_cost_matrix(cost_matrix=[[0, 1], [2, 0]])        # or a path
        resolve_cost_matrix(cost_matrix='costs.csv', classes=CLASSES)

    or the paper's class-based spec::

        resolve_cost_matrix(classes=CLASSES, positive_classes=[...],
                            group='b')                 # or coefficients=...

    Args:
        cost_matrix: explicit N x N matrix, or a .json/.csv path (see
            :func:`load_cost_matrix`). Excludes ``positive_classes``,
            ``coefficients`` and ``group``.
        classes: class names in model output order. Required for the
            class-based spec; with an explicit matrix it fixes N and is
            checked against the class names in the file, if any.
        positive_classes: positive class names (class-based spec).
        coefficients: ``(lambda_NP, lambda_PN, lambda_NN, lambda_PP)``.
        group: ``'a'``-``'d'``, a paper preset (:data:`PAPER_GROUPS`); give
            ``group`` or ``coefficients``, not both; neither means group a.
        normalize: ``'max'`` (default), ``'sum'`` or ``'none'``; applied to
            explicit matrices as well.
        allow_degenerate: see :func:`build_cost_matrix`.

    Returns:
        ``np.ndarray`` float64 ``[N, N]``.
    """
    if cost_matrix is not None:
        extra = [name for name, value in (
            ('positive_classes', positive_classes),
            ('coefficients', coefficients), ('group', group))
                 if value is not None]
        if extra:
            raise ValueError('give either an explicit cost_matrix or the '
                             'class-based spec (positive_classes, '
                             f'coefficients/group), not both; got cost_matrix '
                             f'and {extra}')
        matrix = load_cost_matrix(cost_matrix, classes=classes)
        return normalize_cost_matrix(matrix, normalize)
    if classes is None or positive_classes is None:
        raise ValueError('no cost matrix given: pass cost_matrix (a matrix or '
                         'a .json/.csv path), or classes and '
                         'positive_classes (with coefficients or group)')
    if coefficients is not None and group is not None:
        raise ValueError('give either coefficients or group, not both (got '
                         f'coefficients={coefficients!r}, group={group!r})')
    if coefficients is None:
        key = DEFAULT_GROUP if group is None else str(group).lower()
        if key not in PAPER_GROUPS:
            raise ValueError(f'unknown cost group {group!r}; choose one of '
                             f'{sorted(PAPER_GROUPS)} (paper Table 1)')
        coefficients = PAPER_GROUPS[key]
    return build_cost_matrix(
        classes,
        positive_classes,
        coefficients=coefficients,
        normalize=normalize,
        allow_degenerate=allow_degenerate)
