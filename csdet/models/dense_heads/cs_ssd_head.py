"""SSD head whose classification loss comes from the config (cost-sensitive
SSD) and whose predictions keep each detection's class-probability vector.
"""
import copy
from typing import Dict, List, Optional, Tuple

import torch
from mmdet.models.dense_heads import SSDHead
from mmdet.models.losses import smooth_l1_loss
from mmdet.models.utils import filter_scores_and_topk
from mmdet.registry import MODELS
from mmdet.structures.bbox import cat_boxes
from mmdet.utils import ConfigType, InstanceList, OptInstanceList
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

# Keys of CostSensitiveLoss.loss_parts, in the order the head stacks them.
LOSS_PART_NAMES = ('loss_cls_ce', 'loss_cls_cost')


@MODELS.register_module()
class CSSSDHead(SSDHead):
    r"""SSD head with a configurable softmax classification loss.

    Builds ``loss_cls`` from the config (mmdet 3.3's ``SSDHead`` hard-codes
    ``F.cross_entropy``) and keeps SSD's 3:1 hard-negative mining::

        L_cls = (sum_{i in pos} l_i + sum_{i in top-3P neg} l_i) / avg_factor

    With ``CrossEntropyLoss`` this equals ``SSDHead``; with
    ``CostSensitiveLoss`` ``l_i`` adds the softmax cost term (paper Eq.
    12-13) and is logged as ``loss_cls_ce`` and ``loss_cls_cost``.
    Details and the ``cost_reduction='sum'`` case: docs/method.md, section 2.

    Args:
        num_classes: number of object classes N (background excluded).
        loss_cls: softmax loss config (``use_sigmoid=False``) that accepts
            ``reduction_override='none'`` and returns ``[num_anchors]``;
            default ``CrossEntropyLoss(use_sigmoid=False, reduction='none')``.
        **kwargs: the other ``SSDHead`` arguments (anchors, coder, ...).

    Shapes: ``forward`` gives per level ``[B, A_l * (N + 1), H, W]`` class
    logits (background last) and ``[B, A_l * 4, H, W]`` box deltas.
    ``predict`` gives ``SSDHead``'s ``bboxes`` ``[n, 4]``, ``scores`` and
    ``labels`` ``[n]``, plus ``cls_probs`` ``[n, N]``: the N + 1 softmax
    without the background column, not renormalised.
    """

    def __init__(self,
                 num_classes: int = 80,
                 loss_cls: ConfigType = dict(
                     type='CrossEntropyLoss',
                     use_sigmoid=False,
                     reduction='none',
                     loss_weight=1.0),
                 **kwargs) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        self.loss_cls = MODELS.build(loss_cls)
        if getattr(self.loss_cls, 'use_sigmoid', False):
            raise ValueError(
                'CSSSDHead needs a softmax loss_cls (use_sigmoid=False): SSD '
                'scores N + 1 columns with background last; got '
                f'{loss_cls}')
        loss_classes = getattr(self.loss_cls, 'num_classes', num_classes)
        if loss_classes != num_classes:
            raise ValueError(
                f'loss_cls has {loss_classes} classes (its cost matrix) but '
                f'the head has num_classes={num_classes}; make the cost '
                'settings and num_classes agree')

    # ------------------------------------------------------------------ loss
    def loss_by_feat_single(self, cls_score: Tensor, bbox_pred: Tensor,
                            anchor: Tensor, labels: Tensor,
                            label_weights: Tensor, bbox_targets: Tensor,
                            bbox_weights: Tensor,
                            avg_factor: int) -> Tuple[Tensor, ...]:
        """Loss of one image, as ``SSDHead.loss_by_feat_single``.

        Args: ``cls_score`` ``[A, N + 1]``, ``bbox_pred`` ``[A, 4]``,
        ``anchor`` ``[A, 4]``, ``labels`` ``[A]`` (N = background),
        ``label_weights`` ``[A]``, ``bbox_targets``/``bbox_weights``
        ``[A, 4]``, ``avg_factor`` number of positive anchors in the batch.

        Returns ``(loss_cls, loss_bbox)``: ``loss_cls`` ``[1]`` (or ``[2]`` =
        (ce, cost) when the loss has parts), ``loss_bbox`` a scalar.
        """
        per_anchor = self._per_anchor_cls_loss(cls_score, labels,
                                               label_weights)
        pos_inds, hard_neg_inds = self._hard_negative_mining(
            sum(per_anchor.values()), labels)
        cls_parts = []
        for name, values in per_anchor.items():
            # Same summation order as SSDHead: positives + mined negatives.
            total = values[pos_inds].sum() + values[hard_neg_inds].sum()
            if name != 'loss_cls_cost' or self._cost_divided_by_avg_factor:
                total = total / avg_factor
            cls_parts.append(total)

        if self.reg_decoded_bbox:
            # IoU-type box losses work on decoded absolute boxes.
            bbox_pred = self.bbox_coder.decode(anchor, bbox_pred)
        loss_bbox = smooth_l1_loss(
            bbox_pred,
            bbox_targets,
            bbox_weights,
            beta=self.train_cfg['smoothl1_beta'],
            avg_factor=avg_factor)
        # multi_apply expects two outputs: stack the class-loss parts into
        # one [num_parts] tensor; loss_by_feat splits it by name.
        return torch.stack(cls_parts), loss_bbox

    def loss_by_feat(
        self,
        cls_scores: List[Tensor],
        bbox_preds: List[Tensor],
        batch_gt_instances: InstanceList,
        batch_img_metas: List[dict],
        batch_gt_instances_ignore: OptInstanceList = None
    ) -> Dict[str, List[Tensor]]:
        """``SSDHead.loss_by_feat``; with a loss that has parts, the
        per-image ``loss_cls`` ``[2]`` tensors become ``loss_cls_ce`` and
        ``loss_cls_cost`` lists (both keep their gradients)."""
        losses = super().loss_by_feat(cls_scores, bbox_preds,
                                      batch_gt_instances, batch_img_metas,
                                      batch_gt_instances_ignore)
        if not self._loss_has_parts:
            return losses
        per_image_parts = losses.pop('loss_cls')
        for index, name in enumerate(LOSS_PART_NAMES):
            losses[name] = [
                parts[index:index + 1] for parts in per_image_parts
            ]
        return losses

    @property
    def _loss_has_parts(self) -> bool:
        return callable(getattr(self.loss_cls, 'loss_parts', None))

    @property
    def _cost_divided_by_avg_factor(self) -> bool:
        return getattr(self.loss_cls, 'cost_reduction', 'mean') != 'sum'

    def _per_anchor_cls_loss(self, cls_score: Tensor, labels: Tensor,
                             label_weights: Tensor) -> Dict[str, Tensor]:
        """``{name: [A] per-anchor loss}`` (label weights applied)."""
        if self._loss_has_parts:
            parts = self.loss_cls.loss_parts(
                cls_score, labels, label_weights, reduction_override='none')
            return {name: parts[name] for name in LOSS_PART_NAMES}
        return dict(
            loss_cls=self.loss_cls(
                cls_score, labels, label_weights, reduction_override='none'))

    def _hard_negative_mining(self, per_anchor_loss: Tensor,
                              labels: Tensor) -> Tuple[Tensor, Tensor]:
        """Indices of all positives and of the ``neg_pos_ratio * P``
        negatives with the largest loss (SSD's 3:1 rule)."""
        is_positive = (labels >= 0) & (labels < self.num_classes)
        pos_inds = is_positive.nonzero(as_tuple=False).view(-1)
        neg_inds = (labels == self.num_classes).nonzero(
            as_tuple=False).view(-1)
        num_neg = min(self.train_cfg['neg_pos_ratio'] * pos_inds.numel(),
                      neg_inds.numel())
        _, topk = per_anchor_loss[neg_inds].topk(num_neg)
        return pos_inds, neg_inds[topk]

    # --------------------------------------------------------------- predict
    def _predict_by_feat_single(self,
                                cls_score_list: List[Tensor],
                                bbox_pred_list: List[Tensor],
                                score_factor_list: List[Optional[Tensor]],
                                mlvl_priors: List[Tensor],
                                img_meta: dict,
                                cfg: Optional[ConfigDict],
                                rescale: bool = False,
                                with_nms: bool = True) -> InstanceData:
        """``BaseDenseHead._predict_by_feat_single`` for a softmax head
        (no score factors), carrying each kept anchor's probability vector
        through the score filter and NMS as ``cls_probs`` ``[n, N]``.

        Inputs per level: ``[A_l * (N + 1), H, W]`` logits and
        ``[A_l * 4, H, W]`` deltas of one image; ``mlvl_priors[l]``
        ``[H * W * A_l, 4]``.
        """
        cfg = copy.deepcopy(self.test_cfg if cfg is None else cfg)
        nms_pre = cfg.get('nms_pre', -1)
        score_thr = cfg.get('score_thr', 0)
        kept = dict(bbox_pred=[], priors=[], scores=[], labels=[],
                    cls_probs=[])
        for cls_score, bbox_pred, priors in zip(cls_score_list,
                                                bbox_pred_list, mlvl_priors):
            bbox_pred = bbox_pred.permute(1, 2, 0).reshape(
                -1, self.bbox_coder.encode_size)
            cls_score = cls_score.permute(1, 2, 0).reshape(
                -1, self.cls_out_channels)
            # Background is the last column (mmdet >= 2.0).
            probs = cls_score.softmax(-1)[:, :-1]
            scores, labels, _, filtered = filter_scores_and_topk(
                probs, score_thr, nms_pre,
                dict(bbox_pred=bbox_pred, priors=priors, cls_probs=probs))
            kept['scores'].append(scores)
            kept['labels'].append(labels)
            for key in ('bbox_pred', 'priors', 'cls_probs'):
                kept[key].append(filtered[key])

        results = InstanceData()
        results.bboxes = self.bbox_coder.decode(
            cat_boxes(kept['priors']),
            torch.cat(kept['bbox_pred']),
            max_shape=img_meta['img_shape'])
        results.scores = torch.cat(kept['scores'])
        results.labels = torch.cat(kept['labels'])
        results.cls_probs = torch.cat(kept['cls_probs'])
        # Rescaling, min size and NMS index the InstanceData as a whole, so
        # cls_probs stays aligned with the boxes.
        return self._bbox_post_process(
            results=results,
            cfg=cfg,
            rescale=rescale,
            with_nms=with_nms,
            img_meta=img_meta)
