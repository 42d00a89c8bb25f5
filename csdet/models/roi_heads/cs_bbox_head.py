"""Faster R-CNN box head that logs the cost-sensitive loss in two parts and
keeps each detection's class-probability vector."""
from typing import Optional

import torch
from mmdet.models.layers import multiclass_nms
from mmdet.models.losses import accuracy
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.registry import MODELS
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor


@MODELS.register_module()
class CSShared2FCBBoxHead(Shared2FCBBoxHead):
    r"""``Shared2FCBBoxHead`` (two shared FCs, softmax classifier over N + 1
    columns, background last) with two additions; arguments, layers and
    losses are otherwise ``Shared2FCBBoxHead``'s.

    1. Loss: with a ``loss_cls`` that has a ``loss_parts`` method
       (``CostSensitiveLoss(use_sigmoid=False)``, the softmax form of paper
       Eq. 12-13, method.md section 2) the class loss is returned as
       ``loss_cls_ce`` + ``loss_cls_cost`` (both with gradients; their sum
       is what ``loss_cls`` would be) so that the log shows the cost term.
       Any other ``loss_cls`` (e.g. ``CrossEntropyLoss``) goes through
       ``BBoxHead.loss`` unchanged. Inputs as ``BBoxHead.loss``:
       ``cls_score`` ``[R, N + 1]`` logits of the R sampled RoIs,
       ``labels``/``label_weights`` ``[R]``.
    2. Prediction: ``pred_instances.cls_probs`` ``[n, N]``, each kept
       detection's softmax over the N + 1 columns with the background column
       dropped (not renormalised; ``cls_probs[k, labels[k]] == scores[k]``),
       next to the usual ``bboxes``/``scores``/``labels``, which are
       ``BBoxHead``'s exactly. Faster R-CNN's NMS works per (RoI, class)
       pair, so one RoI can yield several detections; each gets its RoI's
       vector. Not renormalised because those are the probabilities the
       loss's cost term weighs (see ``CSSSDHead``).
    """

    def loss(self,
             cls_score: Tensor,
             bbox_pred: Tensor,
             rois: Tensor,
             labels: Tensor,
             label_weights: Tensor,
             bbox_targets: Tensor,
             bbox_weights: Tensor,
             reduction_override: Optional[str] = None) -> dict:
        """``BBoxHead.loss``, with the class loss split into parts when the
        loss offers them."""
        if cls_score is None or not callable(
                getattr(self.loss_cls, 'loss_parts', None)):
            return super().loss(cls_score, bbox_pred, rois, labels,
                                label_weights, bbox_targets, bbox_weights,
                                reduction_override)
        # Box-regression terms from BBoxHead (it skips the class loss for
        # cls_score=None); the class terms with BBoxHead's own avg_factor.
        losses = super().loss(None, bbox_pred, rois, labels, label_weights,
                              bbox_targets, bbox_weights, reduction_override)
        if cls_score.numel() > 0:
            avg_factor = max(torch.sum(label_weights > 0).float().item(), 1.)
            losses.update(
                self.loss_cls.loss_parts(
                    cls_score,
                    labels,
                    label_weights,
                    avg_factor=avg_factor,
                    reduction_override=reduction_override))
            losses['acc'] = accuracy(cls_score, labels)
        return losses

    def _predict_by_feat_single(
            self,
            roi: Tensor,
            cls_score: Tensor,
            bbox_pred: Tensor,
            img_meta: dict,
            rescale: bool = False,
            rcnn_test_cfg: Optional[ConfigDict] = None) -> InstanceData:
        """``BBoxHead._predict_by_feat_single`` plus ``cls_probs``.

        ``roi`` ``[R, 5]``, ``cls_score`` ``[R, N + 1]``, ``bbox_pred``
        ``[R, 4 * N]`` (or ``[R, 4]`` class-agnostic) of one image.
        """
        if rcnn_test_cfg is None or roi.shape[0] == 0:
            # No NMS (augmented test: raw per-class scores) or no RoIs.
            results = super()._predict_by_feat_single(
                roi, cls_score, bbox_pred, img_meta, rescale, rcnn_test_cfg)
            if rcnn_test_cfg is not None:
                results.cls_probs = roi.new_zeros((0, self.num_classes))
            return results
        # BBoxHead without a test cfg returns the decoded (and rescaled)
        # boxes [R, N * 4] and the softmax [R, N + 1] before NMS.
        raw = super()._predict_by_feat_single(
            roi, cls_score, bbox_pred, img_meta, rescale, rcnn_test_cfg=None)
        boxes_per_roi = 1 if self.reg_class_agnostic else self.num_classes
        det_bboxes, det_labels, flat_inds = multiclass_nms(
            raw.bboxes,
            raw.scores,
            rcnn_test_cfg.score_thr,
            rcnn_test_cfg.nms,
            rcnn_test_cfg.max_per_img,
            return_inds=True,
            box_dim=raw.bboxes.size(1) // boxes_per_roi)
        # multiclass_nms flattens (RoI, class) pairs row-major.
        roi_inds = torch.div(
            flat_inds, self.num_classes, rounding_mode='floor')
        results = InstanceData()
        results.bboxes = det_bboxes[:, :-1]
        results.scores = det_bboxes[:, -1]
        results.labels = det_labels
        results.cls_probs = raw.scores[roi_inds, :-1]
        return results
