"""Cost-sensitive classification loss (CS-YOLOv5, Liu et al. 2023, Eq. 12-15).

``CostSensitiveLoss`` = MMDetection's ``CrossEntropyLoss`` (sigmoid or softmax,
reused verbatim) + the paper's cost term, the expected misclassification cost
of the class outputs under the true class's row of a cost matrix.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
# _expand_onehot_labels is private to mmdet (its binary_cross_entropy uses
# it too); tests/test_models/test_losses pin its output.
from mmdet.models.losses.cross_entropy_loss import (_expand_onehot_labels,
                                                    binary_cross_entropy,
                                                    cross_entropy)
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from torch import Tensor

from csdet.cost.decision import extend_cost_matrix
from csdet.cost.matrix import resolve_cost_matrix

_LOW_PRECISION = (torch.float16, torch.bfloat16)


@MODELS.register_module()
class CostSensitiveLoss(nn.Module):
    r"""Cross-entropy plus the paper's expected-cost term (Eq. 12-14).

    Sigmoid mode (YOLOv5; ``s`` the sigmoid, ``pos`` the object samples)::

        L = loss_weight * sum_{i,c} w_c * BCE(z_ic, y_ic)
          + eta * cost_weight * sum_{i in pos} sum_c w_c * s(z_ic) * C[t_i, c]

    Softmax mode (SSD, Faster R-CNN; background last) uses CE and the
    softmax ``p_ic``, c < N. ``cost_weight=0`` equals ``CrossEntropyLoss``.
    Derivation, gradients, reductions: docs/method.md, section 2.

    Args:
        use_sigmoid: sigmoid/BCE over N columns, else softmax/CE over N + 1.
        cost_matrix, classes, positive_classes, coefficients, group,
            normalize, allow_degenerate: cost spec for
            :func:`csdet.cost.resolve_cost_matrix` (paper Eq. 8).
        reduction, ignore_index, avg_non_ignore: as in mmdet.
        loss_weight, cost_weight, eta: lambda_cls, lambda_cost, cost scale.
        cost_reduction: ``'mean'`` (CE divisor) or ``'sum'`` (paper).
        class_weight: w_c; N (sigmoid) or N + 1 (softmax) values.
        label_smoothing: sigmoid only; targets ``1 - eps/2``, ``eps/2``.
        missed_costs, false_alarm_costs: softmax only; number or N values.

    Shapes: ``cls_score`` [S, N or N + 1] logits; ``label`` [S] int64 in
    ``[0, N]`` (N = background) or ``ignore_index``, or float [S, N]
    (sigmoid); ``weight`` [S]. Output: scalar, or for ``'none'`` [S, N]
    (sigmoid) / [S] (softmax); float32 for half-precision inputs.

    Raises:
        ValueError: bad reduction, weight, smoothing, class_weight length,
            mode-incompatible option, or label shape or range.
    """

    def __init__(self,
                 use_sigmoid: bool = True,
                 cost_matrix: Optional[Union[str, Sequence[Sequence[float]]]]
                 = None,
                 classes: Optional[Sequence[str]] = None,
                 positive_classes: Optional[Sequence[str]] = None,
                 coefficients: Optional[Sequence[float]] = None,
                 group: Optional[str] = None,
                 normalize: Optional[str] = 'max',
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 cost_weight: float = 1.0,
                 eta: float = 1.0,
                 cost_reduction: str = 'mean',
                 class_weight: Optional[Sequence[float]] = None,
                 label_smoothing: float = 0.0,
                 ignore_index: Optional[int] = None,
                 avg_non_ignore: bool = False,
                 missed_costs: Optional[Union[float, Sequence[float]]] = None,
                 false_alarm_costs: Optional[Union[float,
                                                   Sequence[float]]] = None,
                 allow_degenerate: bool = False) -> None:
        super().__init__()
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got "
                             f'{reduction!r}')
        if cost_reduction not in ('mean', 'sum'):
            raise ValueError("cost_reduction must be 'mean' (same divisor as "
                             "the CE part) or 'sum' (paper: sum over "
                             f'positives), got {cost_reduction!r}')
        for name, value in (('loss_weight', loss_weight),
                            ('cost_weight', cost_weight), ('eta', eta)):
            if not float(value) >= 0:
                raise ValueError(f'{name} must be >= 0, got {value!r}')
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError('label_smoothing must be in [0, 1), got '
                             f'{label_smoothing!r}')
        if not use_sigmoid and label_smoothing:
            raise ValueError('label_smoothing is implemented for sigmoid mode '
                             '(YOLOv5 cp/cn targets) only; set it to 0 with '
                             'use_sigmoid=False')
        if use_sigmoid and (missed_costs is not None
                            or false_alarm_costs is not None):
            raise ValueError('missed_costs / false_alarm_costs need a '
                             'background column, i.e. use_sigmoid=False')
        self.use_sigmoid = use_sigmoid
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.cost_weight = cost_weight
        self.eta = eta
        self.cost_reduction = cost_reduction
        self.class_weight = (None if class_weight is None else
                             [float(value) for value in class_weight])
        self.label_smoothing = float(label_smoothing)
        self.ignore_index = ignore_index
        self.avg_non_ignore = avg_non_ignore
        self.last_parts: Dict[str, Tensor] = {}

        matrix = resolve_cost_matrix(
            cost_matrix=cost_matrix,
            classes=classes,
            positive_classes=positive_classes,
            coefficients=coefficients,
            group=group,
            normalize=normalize,
            allow_degenerate=allow_degenerate)
        self.num_classes = matrix.shape[0]
        self.register_buffer(
            'cost_matrix',
            torch.as_tensor(matrix, dtype=torch.float32),
            persistent=False)
        if not use_sigmoid:
            # Rows/columns 0..N-1: the object matrix; column N: missed cost
            # of each true class; row N: false-alarm cost of each predicted
            # class; both default to 0 (no background cost).
            extended = extend_cost_matrix(
                matrix, 0.0 if missed_costs is None else missed_costs,
                0.0 if false_alarm_costs is None else false_alarm_costs)
            self.register_buffer(
                'extended_cost_matrix',
                torch.as_tensor(extended, dtype=torch.float32),
                persistent=False)
        expected = self.num_classes + (0 if use_sigmoid else 1)
        if self.class_weight is not None and len(
                self.class_weight) != expected:
            meaning = ('num_classes' if use_sigmoid else
                       'num_classes + 1, background last')
            raise ValueError(f'class_weight needs {expected} values '
                             f'({meaning}), got {len(self.class_weight)}')

    def extra_repr(self) -> str:
        return (f'use_sigmoid={self.use_sigmoid}, num_classes='
                f'{self.num_classes}, loss_weight={self.loss_weight}, '
                f'cost_weight={self.cost_weight}, eta={self.eta}, '
                f'cost_reduction={self.cost_reduction!r}')

    # ----------------------------------------------------------------- API
    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                ignore_index: Optional[int] = None,
                **kwargs) -> Tensor:
        """Return CE part + cost part (see the class docstring for shapes).

        Also refreshes :attr:`last_parts` (detached parts).
        """
        parts = self.loss_parts(cls_score, label, weight, avg_factor,
                                reduction_override, ignore_index)
        ce_part, cost_part = parts['loss_cls_ce'], parts['loss_cls_cost']
        # cost_weight = 0: return the CE tensor itself, bit-identical to
        # mmdet's CrossEntropyLoss (the paper's r = 0).
        return ce_part if self._cost_disabled else ce_part + cost_part

    def loss_parts(self,
                   cls_score: Tensor,
                   label: Tensor,
                   weight: Optional[Tensor] = None,
                   avg_factor: Optional[float] = None,
                   reduction_override: Optional[str] = None,
                   ignore_index: Optional[int] = None) -> Dict[str, Tensor]:
        """Return ``dict(loss_cls_ce=..., loss_cls_cost=...)`` with grads.

        Same arguments and shapes as :meth:`forward`; the two values sum to
        ``forward``'s output. ``loss_cls_cost`` already includes
        ``eta * cost_weight`` (zeros when ``cost_weight == 0``).
        """
        if reduction_override not in (None, 'none', 'mean', 'sum'):
            raise ValueError("reduction_override must be None, 'none', "
                             f"'mean' or 'sum', got {reduction_override!r}")
        reduction = reduction_override or self.reduction
        if ignore_index is None:
            ignore_index = self.ignore_index
        ignore_index = -100 if ignore_index is None else ignore_index

        # Compute in float32 for half inputs, with autocast off, so that
        # sigmoid/softmax products and reductions do not lose precision.
        with torch.autocast(device_type=cls_score.device.type, enabled=False):
            cls_score, label, weight = self._prepare_inputs(
                cls_score, label, weight)
            if cls_score.shape[0] == 0:
                parts = self._empty_parts(cls_score, reduction)
            else:
                if (avg_factor is None and self.avg_non_ignore
                        and reduction == 'mean'):
                    avg_factor = self._num_valid_elements(
                        label, ignore_index, cls_score.shape[1])
                parts = self._compute_parts(cls_score, label, weight,
                                            reduction, avg_factor,
                                            ignore_index)
        self.last_parts = {
            key: value.detach()
            for key, value in parts.items()
        }
        return parts

    # ------------------------------------------------------------- helpers
    @property
    def _cost_disabled(self) -> bool:
        return self.cost_weight == 0 or self.eta == 0

    def _prepare_inputs(
        self, cls_score: Tensor, label: Tensor, weight: Optional[Tensor]
    ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """Check shapes; upcast half precision to float32."""
        expected = self.num_classes + (0 if self.use_sigmoid else 1)
        if cls_score.dim() != 2 or cls_score.shape[1] != expected:
            mode = 'sigmoid' if self.use_sigmoid else 'softmax'
            extra = '' if self.use_sigmoid else ' + 1 background column'
            raise ValueError(
                f'CostSensitiveLoss ({mode} mode) expects cls_score of shape '
                f'[num_samples, {expected}] (the {self.num_classes} x '
                f'{self.num_classes} cost matrix{extra}), got '
                f'{tuple(cls_score.shape)}; check num_classes against the '
                'cost matrix / classes')
        if cls_score.dtype in _LOW_PRECISION:
            cls_score = cls_score.float()
        if label.is_floating_point():
            if not self.use_sigmoid:
                raise ValueError('float (one-hot/soft) targets are only '
                                 'supported with use_sigmoid=True; give '
                                 'integer class indices')
            if label.shape != cls_score.shape:
                raise ValueError(f'float targets must have the shape of '
                                 f'cls_score {tuple(cls_score.shape)}, got '
                                 f'{tuple(label.shape)}')
            label = label.to(cls_score.dtype)
            if weight is not None and weight.dim() == 1:
                # mmdet would broadcast [N] against [N, C] along the wrong
                # axis; a per-sample weight applies to the whole row.
                weight = weight[:, None]
        elif label.shape != cls_score.shape[:1]:
            raise ValueError(f'integer labels must have shape '
                             f'[{cls_score.shape[0]}], got '
                             f'{tuple(label.shape)}')
        if weight is not None and weight.dtype in _LOW_PRECISION:
            weight = weight.float()
        return cls_score, label, weight

    def _num_valid_elements(self, label: Tensor, ignore_index: int,
                            num_columns: int) -> Union[int, float]:
        """mmdet's ``avg_non_ignore`` divisor, computed before any target
        expansion so that it matches ``CrossEntropyLoss`` exactly."""
        valid = (label >= 0) & (label != ignore_index)
        if label.is_floating_point() or not self.use_sigmoid:
            return valid.sum().item()
        return (valid.float().sum() * num_columns).item()

    def _class_weight(self, reference: Tensor) -> Optional[Tensor]:
        if self.class_weight is None:
            return None
        return reference.new_tensor(self.class_weight)

    def _empty_parts(self, cls_score: Tensor,
                     reduction: str) -> Dict[str, Tensor]:
        # Zero-sized input: keep the graph and avoid mmdet's mean-of-empty
        # NaN; the element-wise shape mirrors the non-empty case.
        if reduction == 'none':
            zero = (cls_score * 0 if self.use_sigmoid else
                    cls_score.sum(dim=1) * 0)
        else:
            zero = cls_score.sum() * 0
        return dict(loss_cls_ce=zero, loss_cls_cost=zero.detach().clone())

    def _compute_parts(self, cls_score: Tensor, label: Tensor,
                       weight: Optional[Tensor], reduction: str,
                       avg_factor: Optional[float],
                       ignore_index: int) -> Dict[str, Tensor]:
        if self.use_sigmoid:
            ce_part = self._sigmoid_ce(cls_score, label, weight, reduction,
                                       avg_factor, ignore_index)
        else:
            ce_part = self.loss_weight * cross_entropy(
                cls_score,
                label,
                weight,
                class_weight=self._class_weight(cls_score),
                reduction=reduction,
                avg_factor=avg_factor,
                ignore_index=ignore_index,
                avg_non_ignore=self.avg_non_ignore)
        if self._cost_disabled:
            return dict(loss_cls_ce=ce_part,
                        loss_cls_cost=torch.zeros_like(ce_part))
        if self.use_sigmoid:
            cost = self._sigmoid_cost_elements(cls_score, label, ignore_index)
        else:
            cost = self._softmax_cost_elements(cls_score, label, ignore_index)
        if weight is not None:
            weight = weight.to(cost.dtype)
            cost = cost * (weight[:, None] if cost.dim() == 2
                           and weight.dim() == 1 else weight)
        if reduction == 'none':
            reduced = cost
        elif reduction == 'mean' and self.cost_reduction == 'mean':
            reduced = weight_reduce_loss(
                cost, reduction='mean', avg_factor=avg_factor)
        else:
            reduced = cost.sum()
        return dict(
            loss_cls_ce=ce_part,
            loss_cls_cost=(self.eta * self.cost_weight) * reduced)

    def _sigmoid_ce(self, cls_score: Tensor, label: Tensor,
                    weight: Optional[Tensor], reduction: str,
                    avg_factor: Optional[float],
                    ignore_index: int) -> Tensor:
        """BCE part through mmdet's ``binary_cross_entropy``."""
        class_weight = self._class_weight(cls_score)
        if class_weight is not None or self.label_smoothing > 0:
            # Paper-style w_c and YOLOv5 smoothing need explicit [N, C]
            # targets and weights; mmdet's own expansion builds them.
            if not label.is_floating_point():
                label, weight, _ = _expand_onehot_labels(
                    label, weight, cls_score.shape[1], ignore_index)
            label = label.to(cls_score.dtype)
            if self.label_smoothing > 0:
                # YOLOv5 smooth_BCE: 1 -> 1 - eps/2, 0 -> eps/2.
                eps = self.label_smoothing
                label = label * (1.0 - eps) + 0.5 * eps
            if class_weight is not None:
                weight = (class_weight.expand_as(cls_score)
                          if weight is None else weight * class_weight)
        return self.loss_weight * binary_cross_entropy(
            cls_score,
            label,
            weight,
            reduction=reduction,
            avg_factor=avg_factor,
            class_weight=None,
            ignore_index=ignore_index,
            avg_non_ignore=self.avg_non_ignore)

    def _cost_rows(self, matrix: Tensor, true_class: Tensor,
                   is_cost_sample: Tensor, dtype: torch.dtype) -> Tensor:
        """``matrix[t_i]`` for cost samples, zero rows for the others."""
        safe_class = torch.where(is_cost_sample, true_class,
                                 torch.zeros_like(true_class))
        rows = matrix.to(dtype)[safe_class]
        return rows * is_cost_sample[:, None].to(dtype)

    def _sigmoid_cost_elements(self, cls_score: Tensor, label: Tensor,
                               ignore_index: int) -> Tensor:
        """``[N, C]``: ``w_c * s(z_ic) * C[t_i, c]``, 0 off positives."""
        num_classes = self.num_classes
        if label.is_floating_point():
            is_positive = (label > 0).any(dim=1)
            true_class = label.argmax(dim=1)
        else:
            self._check_int_labels(label, ignore_index)
            is_positive = (label >= 0) & (label < num_classes)
            true_class = label.long()
        rows = self._cost_rows(self.cost_matrix, true_class, is_positive,
                               cls_score.dtype)
        cost = cls_score.sigmoid() * rows
        class_weight = self._class_weight(cls_score)
        return cost if class_weight is None else cost * class_weight

    def _softmax_cost_elements(self, cls_score: Tensor, label: Tensor,
                               ignore_index: int) -> Tensor:
        """``[N]``: ``sum_c w_c * softmax(z_i)_c * E[t_i, c]``, E the
        extended matrix (background row/column zero unless configured)."""
        self._check_int_labels(label, ignore_index)
        is_valid = (label >= 0) & (label <= self.num_classes)
        rows = self._cost_rows(self.extended_cost_matrix, label.long(),
                               is_valid, cls_score.dtype)
        class_weight = self._class_weight(cls_score)
        if class_weight is not None:
            rows = rows * class_weight
        return (F.softmax(cls_score, dim=1) * rows).sum(dim=1)

    def _check_int_labels(self, label: Tensor, ignore_index: int) -> None:
        in_range = (label >= 0) & (label <= self.num_classes)
        bad = ~in_range & (label != ignore_index)
        if bad.any():
            raise ValueError(
                f'labels must lie in [0, {self.num_classes}] (background = '
                f'{self.num_classes}) or equal ignore_index={ignore_index}, '
                f'got {sorted(set(label[bad].tolist()))[:10]}')
