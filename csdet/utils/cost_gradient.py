"""How hard the cost term pushes the class logits, relative to the CE.

A cost-sensitive loss only changes training if its gradient is not
negligible next to the cross-entropy's. The number that says so is, on the
class logits ``z`` (every tensor the class loss reads, all images and
levels of a batch at once)::

    ratio = ||d loss_cls_cost / dz|| / ||d loss_cls_ce / dz||

It is linear in the loss's ``eta`` (the cost part is ``eta * cost_weight *
cost``, and nothing the CE part or the sample selection depends on changes
with ``eta``), so one measurement gives the ``eta`` for any target ratio:
:func:`eta_for_ratio`. Used by ``tools/analysis/cost_gradient_ratio.py`` to
give every detector's cost-sensitive config the same ratio at init.

    norms = measure_cost_gradient(model, data_batch)   # model in train mode
    norms.ratio, norms.ce, norms.cost

:func:`class_loss_gradient_norms` is the framework-free core (a loss dict
and the logits tensors); :func:`measure_cost_gradient` finds the logits of
YOLOv5 / SSD / Faster R-CNN heads with forward hooks.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, List, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

# Loss-dict keys: the CE part of CostSensitiveLoss, or the whole class loss
# of a plain config (which then has no cost part).
CE_KEYS = ('loss_cls_ce', 'loss_cls')
COST_KEY = 'loss_cls_cost'

# Head attributes whose outputs are the class logits, in lookup order:
# Faster R-CNN's RoI head classifier, SSD's per-level class convs, YOLOv5's
# per-level prediction convs. YOLOv5's maps also hold box and objectness
# channels, but the class-loss parts read only the class channels, so their
# gradient is zero elsewhere and the norm is the class logits' norm.
LOGIT_MODULE_NAMES = ('fc_cls', 'cls_convs', 'convs_pred')


@dataclass(frozen=True)
class GradientNorms:
    """L2 norms of the two class-loss parts' gradients on the logits."""
    ce: float
    cost: float

    @property
    def ratio(self) -> float:
        """``cost / ce``; NaN when the CE gradient is zero (no positives)."""
        return self.cost / self.ce if self.ce > 0 else math.nan


def sum_loss(value: Any) -> Tensor:
    """A loss-dict entry as one scalar (heads such as SSD's return a list
    of per-image tensors; mmengine sums them the same way)."""
    if isinstance(value, Tensor):
        return value.sum()
    return sum(item.sum() for item in value)


def gradient_norm(loss: Tensor, tensors: Sequence[Tensor]) -> float:
    """``||d loss / d tensors||_2`` over all tensors together.

    A loss that does not depend on the tensors (e.g. the cost part of a
    loss with ``cost_weight=0``, a constant zero) has norm 0.
    """
    if not loss.requires_grad:
        return 0.0
    # retain_graph: the other part is differentiated through the same graph.
    grads = torch.autograd.grad(
        loss, list(tensors), retain_graph=True, allow_unused=True)
    squares = [grad.double().pow(2).sum() for grad in grads
               if grad is not None]
    return math.sqrt(float(sum(squares))) if squares else 0.0


def class_loss_gradient_norms(losses: Mapping[str, Any],
                              logits: Sequence[Tensor]) -> GradientNorms:
    """Gradient norms of the CE and cost parts of a loss dict on ``logits``.

    Args:
        losses: a detector's loss dict: ``loss_cls_ce`` and ``loss_cls_cost``
            (``CostSensitiveLoss`` heads) or ``loss_cls`` alone (plain
            configs: cost norm 0). Values are tensors or lists of tensors.
        logits: the class-logit tensors the class loss was computed from.
    """
    ce_key = next((key for key in CE_KEYS if key in losses), None)
    if ce_key is None:
        raise KeyError(f'no class loss ({" / ".join(CE_KEYS)}) in the loss '
                       f'dict; keys: {sorted(losses)}')
    if not logits:
        raise ValueError('no class logits were recorded')
    ce = gradient_norm(sum_loss(losses[ce_key]), logits)
    cost = (gradient_norm(sum_loss(losses[COST_KEY]), logits)
            if COST_KEY in losses else 0.0)
    return GradientNorms(ce=ce, cost=cost)


def class_head(model: nn.Module) -> nn.Module:
    """The head that owns ``loss_cls``: the RoI box head of two-stage
    detectors, else ``model.bbox_head``."""
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is not None:
        return roi_head.bbox_head
    return model.bbox_head


def class_logit_modules(model: nn.Module) -> List[nn.Module]:
    """The modules whose outputs are the class logits (see
    ``LOGIT_MODULE_NAMES``)."""
    head = class_head(model)
    for name in LOGIT_MODULE_NAMES:
        module = getattr(head, name, None)
        if module is not None:
            return (list(module) if isinstance(module, nn.ModuleList) else
                    [module])
    raise TypeError(f'{type(head).__name__} has none of '
                    f'{LOGIT_MODULE_NAMES}: cannot find its class logits')


def class_loss_settings(model: nn.Module) -> dict:
    """``eta`` and ``cost_weight`` of the class loss (None for a loss
    without a cost term)."""
    loss = class_head(model).loss_cls
    return dict(eta=getattr(loss, 'eta', None),
                cost_weight=getattr(loss, 'cost_weight', None))


@contextmanager
def record_outputs(modules: Sequence[nn.Module]) -> Iterator[List[Tensor]]:
    """Collect the outputs of ``modules`` (in call order) while inside."""
    recorded: List[Tensor] = []
    handles = [
        module.register_forward_hook(
            lambda _module, _args, output: recorded.append(output))
        for module in modules
    ]
    try:
        yield recorded
    finally:
        for handle in handles:
            handle.remove()


def measure_cost_gradient(model: nn.Module, data: dict) -> GradientNorms:
    """One training forward of ``data`` (a dataloader batch, not yet
    preprocessed) and the class-loss gradient norms on the class logits.

    The model should be in train mode (as in training: BN batch statistics,
    training-time sampling). Nothing is updated: only the gradients with
    respect to the logits are computed, not the parameters'.
    """
    data = model.data_preprocessor(data, True)
    with record_outputs(class_logit_modules(model)) as logits:
        losses = model.loss(data['inputs'], data['data_samples'])
    return class_loss_gradient_norms(losses, logits)


def eta_for_ratio(ratio: float, eta: Optional[float],
                  target: float) -> float:
    """The ``eta`` that gives ``target``, from ``ratio`` measured at ``eta``
    (the ratio is proportional to eta). NaN when it cannot be told."""
    if eta is None or not eta > 0 or not ratio > 0:
        return math.nan
    return target * eta / ratio
