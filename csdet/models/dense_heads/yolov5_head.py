"""YOLOv5 (Ultralytics v7.0) detection head, loss and inference for mmdet.

Spec: docs/yolov5.md ("Detect", "Decoding", "Target assignment", "Loss",
"Inference"); the cost-sensitive term of method.md section 2 enters through
the configurable ``loss_cls``.
"""
import copy
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from mmcv.ops import batched_nms
from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures.bbox import get_box_tensor
from mmengine.config import ConfigDict
from mmengine.dist import get_world_size
from mmengine.structures import InstanceData
from torch import Tensor

from ..layers.yolov5_layers import scale_channels

# Ultralytics v7.0 default anchors (pixels, w x h) of P3/8, P4/16, P5/32.
YOLOV5_ANCHORS = [[(10, 13), (16, 30), (33, 23)],
                  [(30, 61), (62, 45), (59, 119)],
                  [(116, 90), (156, 198), (373, 326)]]

# Candidate cells of a target: its own cell, then left, up, right, down
# (order of the reference's offset table; it decides which write wins when
# two targets land on the same cell and anchor).
_NEIGHBOUR_DIRECTIONS = ((0, 0), (1, 0), (0, 1), (-1, 0), (0, -1))

_TRAIN_CFG_DEFAULTS = dict(anchor_t=4.0, neighbour_offset=0.5)


def bbox_ciou_yolov5(pred_xywh: Tensor,
                     target_xywh: Tensor,
                     eps: float = 1e-7) -> Tensor:
    """Complete IoU as in Ultralytics v7.0 ``bbox_iou(..., CIoU=True)``.

    CIoU = IoU - (rho^2 / c^2 + alpha * v), with
    v = 4 / pi^2 * (atan(w_t / h_t) - atan(w_p / h_p))^2 and
    alpha = v / (v - IoU + 1 + eps) computed WITHOUT gradient and applied at
    every IoU (mmdet's ``ciou_loss`` zeroes alpha where IoU < 0.5 and lets
    gradient flow through it, so it is not the reference). torchvision's
    ``complete_box_iou_loss`` is not used either: it takes xyxy and
    recomputes w = x2 - x1, off by up to 6e-3 on tiny boxes
    (tests/test_models/test_dense_heads/test_yolov5_ciou_reference.py).

    Args:
        pred_xywh (Tensor): (n, 4) boxes (cx, cy, w, h).
        target_xywh (Tensor): (n, 4) boxes (cx, cy, w, h), same units.
        eps (float): the reference's 1e-7 guards.

    Returns:
        Tensor: (n,) CIoU values in (-1.5, 1].
    """
    px, py, pw, ph = pred_xywh.unbind(-1)
    tx, ty, tw, th = target_xywh.unbind(-1)
    p_x1, p_x2, p_y1, p_y2 = px - pw / 2, px + pw / 2, py - ph / 2, py + ph / 2
    t_x1, t_x2, t_y1, t_y2 = tx - tw / 2, tx + tw / 2, ty - th / 2, ty + th / 2

    inter = ((torch.minimum(p_x2, t_x2) - torch.maximum(p_x1, t_x1)).clamp(0) *
             (torch.minimum(p_y2, t_y2) - torch.maximum(p_y1, t_y1)).clamp(0))
    union = pw * ph + tw * th - inter + eps
    iou = inter / union

    enclose_w = torch.maximum(p_x2, t_x2) - torch.minimum(p_x1, t_x1)
    enclose_h = torch.maximum(p_y2, t_y2) - torch.minimum(p_y1, t_y1)
    enclose_diag2 = enclose_w**2 + enclose_h**2 + eps
    centre_dist2 = ((t_x1 + t_x2 - p_x1 - p_x2)**2 +
                    (t_y1 + t_y2 - p_y1 - p_y2)**2) / 4
    v = (4 / math.pi**2) * (torch.atan(tw / th) - torch.atan(pw / ph))**2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (centre_dist2 / enclose_diag2 + v * alpha)


def nms_top_k(bboxes: Tensor, labels: Tensor, iou_threshold: float,
              max_num: int) -> Tensor:
    """Greedy NMS within each class, boxes ranked best first; the first
    ``max_num`` kept indices.

    Equal to NMS over all boxes followed by ``[:max_num]``: a box's fate
    depends only on the boxes ranked above it, so NMS runs on the first k
    boxes, k growing four-fold until ``max_num`` boxes survive or all are in.

    Args:
        bboxes (Tensor): (n, 4) xyxy, in rank order (e.g. by descending
            score; equal scores keep this order).
        labels (Tensor): (n,) int64 classes; boxes of different classes never
            suppress each other.
        iou_threshold (float): suppress at IoU > this.
        max_num (int): kept boxes wanted; <= 0 for all.

    Returns:
        Tensor: (k,) int64 indices into the inputs, ascending (rank order).
    """
    num = labels.numel()
    if max_num <= 0 or max_num > num:
        max_num = num
    if num == 0:
        return labels.new_zeros(0, dtype=torch.long)
    # torchvision's nms sorts by score: strictly decreasing ranks keep ours
    bboxes = bboxes.float()
    ranks = torch.arange(num, 0, -1, dtype=torch.float32,
                         device=bboxes.device)
    count = min(num, max(2 * max_num, 256))
    while True:
        keep = torch.zeros(count, dtype=torch.bool, device=bboxes.device)
        prefix = labels[:count]
        for label in prefix.unique().tolist():
            members = (prefix == label).nonzero(as_tuple=True)[0]
            kept = torchvision.ops.nms(bboxes[members], ranks[members],
                                       iou_threshold)
            keep[members[kept]] = True
        keep = keep.nonzero(as_tuple=True)[0]
        if keep.numel() >= max_num or count == num:
            return keep[:max_num]
        count = min(num, 4 * count)


@MODELS.register_module()
class YOLOv5Head(BaseDenseHead):
    """YOLOv5 ``Detect`` layer with the v7.0 ``ComputeLoss`` and NMS.

    Per level a 1x1 conv maps the neck map to ``na * (5 + nc)`` channels,
    anchor-major, each anchor ``[x, y, w, h, obj, cls_0..cls_{nc-1}]``.
    Loss: CIoU box, per-level-weighted BCE objectness and ``loss_cls`` on the
    positives, scaled by the reference's gains and the batch size; a
    ``loss_cls`` with ``loss_parts`` is logged as ``loss_cls_ce`` and
    ``loss_cls_cost``. Predictions carry ``cls_probs`` (num_dets, nc), the
    sigmoid class outputs not multiplied by objectness. Anchors live in the
    ``anchors`` buffer (nl, na, 2); change them with :meth:`set_anchors`.
    Decoding, assignment, loss and inference: docs/yolov5.md, "Detect" to
    "Inference".

    Args:
        num_classes (int): number of object classes (nc).
        in_channels (Sequence[int]): unscaled neck channels (256, 512, 1024).
        widen_factor (float): width multiple applied to ``in_channels``.
        prior_generator (dict): ``YOLOAnchorGenerator`` config (pixels).
        loss_cls (dict): class loss config, called with (P, nc) logits and
            (P,) int64 labels, or (P, nc) float targets when smoothing.
        box_gain, obj_gain (float): hyp ``box`` (0.05), ``obj`` (1.0).
        obj_level_weights (Sequence[float]): objectness weight per level.
        label_smoothing (float): hyp ``label_smoothing`` eps (0.0).
        imgsz (int): training size; objectness gain x (imgsz / 640)^2.
        train_cfg (dict, optional): ``anchor_t`` (4.0), ``neighbour_offset``.
        test_cfg (dict, optional): ``score_thr``, ``nms``, ``max_per_img``,
            ``multi_label``, ``nms_pre``.

    Shapes: forward takes (N, C_l, H_l, W_l) maps and returns a 1-tuple
    holding the list of raw maps (N, na * (5 + nc), H_l, W_l).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Sequence[int] = (256, 512, 1024),
                 widen_factor: float = 1.0,
                 prior_generator: dict = dict(
                     type='mmdet.YOLOAnchorGenerator',
                     base_sizes=YOLOV5_ANCHORS,
                     strides=[8, 16, 32]),
                 loss_cls: dict = dict(
                     type='mmdet.CrossEntropyLoss',
                     use_sigmoid=True,
                     reduction='mean',
                     loss_weight=0.5),
                 box_gain: float = 0.05,
                 obj_gain: float = 1.0,
                 obj_level_weights: Sequence[float] = (4.0, 1.0, 0.4),
                 label_smoothing: float = 0.0,
                 imgsz: int = 640,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 1:
            raise ValueError(f'YOLOv5Head: num_classes={num_classes} must be '
                             '>= 1')
        self.num_classes = num_classes
        self.prior_generator = TASK_UTILS.build(prior_generator)
        self.num_levels = self.prior_generator.num_levels
        self.num_base_priors = self.prior_generator.num_base_priors[0]
        self.featmap_strides = [
            self._square_stride(stride)
            for stride in self.prior_generator.strides
        ]
        if len(in_channels) != self.num_levels:
            raise ValueError(
                f'YOLOv5Head: in_channels has {len(in_channels)} levels but '
                f'prior_generator has {self.num_levels}')
        if len(obj_level_weights) != self.num_levels:
            raise ValueError(
                f'YOLOv5Head: obj_level_weights={list(obj_level_weights)} '
                f'needs one weight per level ({self.num_levels})')
        self.num_attrib = 5 + num_classes
        self.in_channels = [
            scale_channels(c, widen_factor) for c in in_channels
        ]
        self.register_buffer(
            'anchors',
            torch.tensor(self.prior_generator.base_sizes,
                         dtype=torch.float32))
        self.loss_cls = MODELS.build(loss_cls)
        if label_smoothing > 0 and getattr(self.loss_cls, 'label_smoothing',
                                           0) > 0:
            raise ValueError(
                'YOLOv5Head: label smoothing is set both on the head '
                f'({label_smoothing}) and on loss_cls '
                f'({self.loss_cls.label_smoothing}); set it in one place '
                '(the head smooths the targets for any loss_cls)')
        self.box_gain = box_gain
        self.obj_gain = obj_gain
        self.obj_level_weights = tuple(float(w) for w in obj_level_weights)
        self.label_smoothing = label_smoothing
        self.imgsz = imgsz
        self.train_cfg = self._check_train_cfg(train_cfg)
        self.test_cfg = test_cfg

        self.convs_pred = nn.ModuleList(
            nn.Conv2d(channels, self.num_base_priors * self.num_attrib, 1)
            for channels in self.in_channels)
        self._init_pred_biases()

    # ------------------------------------------------------------------ init
    @staticmethod
    def _square_stride(stride: Union[int, Tuple[int, int]]) -> int:
        if isinstance(stride, (tuple, list)):
            if stride[0] != stride[1]:
                raise ValueError(f'YOLOv5Head needs square strides, got '
                                 f'{tuple(stride)}')
            stride = stride[0]
        return int(stride)

    @staticmethod
    def _check_train_cfg(train_cfg: Optional[dict]) -> ConfigDict:
        cfg = dict(_TRAIN_CFG_DEFAULTS)
        unknown = set(train_cfg or {}) - set(_TRAIN_CFG_DEFAULTS)
        if unknown:
            raise KeyError(
                f'YOLOv5Head train_cfg: unknown keys {sorted(unknown)}; '
                f'allowed: {sorted(_TRAIN_CFG_DEFAULTS)}')
        cfg.update(train_cfg or {})
        return ConfigDict(cfg)

    def _init_pred_biases(self) -> None:
        """PyTorch-default conv init, then the reference's bias priors.

        obj bias += log(8 / (640 / stride)^2) (8 objects per 640 image);
        cls bias += log(0.6 / (nc - 0.99999)).
        """
        for conv, stride in zip(self.convs_pred, self.featmap_strides):
            conv.reset_parameters()
            with torch.no_grad():
                bias = conv.bias.view(self.num_base_priors, self.num_attrib)
                bias[:, 4] += math.log(8 / (640 / stride)**2)
                bias[:, 5:] += math.log(0.6 / (self.num_classes - 0.99999))

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            self._init_pred_biases()

    # --------------------------------------------------------------- anchors
    def set_anchors(self, anchors_per_level: Union[Tensor, Sequence]) -> None:
        """Replace the anchors (pixels, w x h), e.g. after AutoAnchor.

        Args:
            anchors_per_level: (nl, na, 2) nested sequence or tensor, level
                order of ``featmap_strides`` (small anchors first).
        """
        anchors = torch.as_tensor(anchors_per_level, dtype=torch.float32)
        if anchors.shape != self.anchors.shape:
            raise ValueError(
                f'YOLOv5Head.set_anchors: expected shape '
                f'{tuple(self.anchors.shape)} (levels, anchors, wh), got '
                f'{tuple(anchors.shape)}')
        if not bool((anchors > 0).all()):
            raise ValueError(
                'YOLOv5Head.set_anchors: anchor sizes must be > 0')
        self.anchors.copy_(anchors.to(self.anchors.device))
        self._sync_prior_generator()

    def _sync_prior_generator(self) -> None:
        """Make ``prior_generator.base_sizes`` equal the ``anchors`` buffer.

        The buffer changes behind the generator's back when a checkpoint is
        loaded or an EMA copy is updated, so this runs before every use.
        """
        sizes = [[tuple(wh) for wh in level]
                 for level in self.anchors.tolist()]
        generator = self.prior_generator
        current = [[tuple(float(v) for v in wh) for wh in level]
                   for level in generator.base_sizes]
        if current != sizes:
            generator.base_sizes = sizes
            generator.base_anchors = generator.gen_base_anchors()

    # --------------------------------------------------------------- forward
    def forward(self, x: Tuple[Tensor, ...]) -> Tuple[List[Tensor]]:
        if len(x) != self.num_levels:
            raise ValueError(f'YOLOv5Head expects {self.num_levels} feature '
                             f'maps, got {len(x)}')
        return ([conv(feat) for conv, feat in zip(self.convs_pred, x)], )

    def _split_levels(self, pred_map: Tensor) -> Tensor:
        """(N, na*(5+nc), H, W) -> (N, na, H, W, 5+nc)."""
        num_imgs, _, height, width = pred_map.shape
        return pred_map.view(num_imgs, self.num_base_priors, self.num_attrib,
                             height, width).permute(0, 1, 3, 4, 2)

    # ------------------------------------------------------------ assignment
    @staticmethod
    def gt_instances_to_targets(batch_gt_instances: Sequence[InstanceData],
                                device: torch.device) -> Tensor:
        """Stack gts as rows (image index, label, cx, cy, w, h) in pixels.

        Rows are in image order, then instance order (the reference's
        collate order).
        """
        rows = []
        for img_index, gt_instances in enumerate(batch_gt_instances):
            bboxes = get_box_tensor(gt_instances.bboxes).to(device).float()
            if bboxes.numel() == 0:
                continue
            labels = gt_instances.labels.to(device).float()
            xywh = torch.cat(((bboxes[:, :2] + bboxes[:, 2:]) / 2,
                              bboxes[:, 2:] - bboxes[:, :2]), 1)
            img_col = torch.full_like(labels, float(img_index))
            rows.append(torch.cat((img_col[:, None], labels[:, None], xywh),
                                  1))
        if not rows:
            return torch.zeros((0, 6), device=device)
        return torch.cat(rows, 0)

    def assign_level(self, targets: Tensor, level: int,
                     featmap_size: Tuple[int, int]) -> Dict[str, Tensor]:
        """The reference ``build_targets`` for one level.

        Args:
            targets (Tensor): (nt, 6) rows from
                :meth:`gt_instances_to_targets` (pixels).
            level (int): level index.
            featmap_size (tuple): (H, W) of the level's grid.

        Returns:
            dict with, per positive (anchor-major, then offset order own,
            left, up, right, down): ``img_inds``, ``anchor_inds``, ``grid_y``,
            ``grid_x`` (int64), ``labels`` (int64), ``target_boxes`` (P, 4)
            (cx - cell_x, cy - cell_y, w, h) in grid units and ``anchors``
            (P, 2) in grid units.
        """
        height, width = featmap_size
        stride = self.featmap_strides[level]
        anchors = self.anchors[level].to(targets.device) / stride
        anchor_t = self.train_cfg.anchor_t
        offset = self.train_cfg.neighbour_offset

        gt_xywh = targets[:, 2:6] / stride
        ratio = gt_xywh[None, :, 2:4] / anchors[:, None, :]
        pair_ok = torch.max(ratio, 1 / ratio).max(2).values < anchor_t
        anchor_inds, gt_inds = pair_ok.nonzero(as_tuple=True)

        gt_xy = gt_xywh[gt_inds, :2]
        gt_xy_inverse = gt_xy.new_tensor([width, height]) - gt_xy
        left, up = ((gt_xy % 1 < offset) & (gt_xy > 1)).T
        right, down = ((gt_xy_inverse % 1 < offset) &
                       (gt_xy_inverse > 1)).T
        cell_masks = torch.stack(
            (torch.ones_like(left), left, up, right, down))
        direction_inds, pair_inds = cell_masks.nonzero(as_tuple=True)
        directions = gt_xy.new_tensor(_NEIGHBOUR_DIRECTIONS) * offset

        centre = gt_xy[pair_inds]
        cells = (centre - directions[direction_inds]).long()
        grid_x = cells[:, 0].clamp(0, width - 1)
        grid_y = cells[:, 1].clamp(0, height - 1)
        cell_xy = torch.stack((grid_x, grid_y), 1)
        gt_of_pos = gt_inds[pair_inds]
        anchor_of_pos = anchor_inds[pair_inds]
        return dict(
            img_inds=targets[gt_of_pos, 0].long(),
            anchor_inds=anchor_of_pos,
            grid_y=grid_y,
            grid_x=grid_x,
            labels=targets[gt_of_pos, 1].long(),
            target_boxes=torch.cat(
                (centre - cell_xy, gt_xywh[gt_of_pos, 2:4]), 1),
            anchors=anchors[anchor_of_pos])

    # ------------------------------------------------------------------ loss
    def _cls_targets(self, labels: Tensor, cls_logits: Tensor) -> Tensor:
        """Integer labels, or smoothed one-hot targets when eps > 0."""
        if self.label_smoothing <= 0:
            return labels
        eps = self.label_smoothing
        targets = torch.full_like(cls_logits, eps / 2)
        targets[torch.arange(labels.numel(), device=labels.device),
                labels] = 1.0 - eps / 2
        return targets

    def _class_loss_terms(self, cls_logits: Tensor,
                          labels: Tensor) -> Dict[str, Tensor]:
        targets = self._cls_targets(labels, cls_logits)
        if hasattr(self.loss_cls, 'loss_parts'):
            return dict(self.loss_cls.loss_parts(cls_logits, targets))
        return dict(loss_cls=self.loss_cls(cls_logits, targets))

    def loss_by_feat(
            self,
            pred_maps: Sequence[Tensor],
            batch_gt_instances: Sequence[InstanceData],
            batch_img_metas: Sequence[dict],
            batch_gt_instances_ignore: Optional[Sequence] = None
    ) -> Dict[str, Tensor]:
        """Reference ``ComputeLoss.__call__`` (see the class docstring).

        Args:
            pred_maps (list[Tensor]): per level (N, na*(5+nc), H, W).
            batch_gt_instances (list[InstanceData]): ``bboxes`` (k, 4) xyxy
                pixels of the network input, ``labels`` (k,).
            batch_img_metas (list[dict]): one per image (only the count is
                used).

        Returns:
            dict: ``loss_bbox``, ``loss_obj`` and ``loss_cls`` (or
            ``loss_cls_ce`` + ``loss_cls_cost``), each already scaled by
            batch_size * world_size.
        """
        device = pred_maps[0].device
        num_imgs = pred_maps[0].shape[0]
        targets = self.gt_instances_to_targets(batch_gt_instances, device)
        zero = pred_maps[0].sum() * 0
        loss_box = zero
        loss_obj = zero
        cls_terms: Dict[str, Tensor] = {}

        for level, pred_map in enumerate(pred_maps):
            pred = self._split_levels(pred_map)
            target_obj = torch.zeros_like(pred[..., 4])
            assigned = self.assign_level(targets, level, pred.shape[2:4])
            num_pos = assigned['img_inds'].numel()
            if num_pos:
                pos_index = (assigned['img_inds'], assigned['anchor_inds'],
                             assigned['grid_y'], assigned['grid_x'])
                pos_pred = pred[pos_index]
                pred_xy = pos_pred[:, :2].sigmoid() * 2 - 0.5
                pred_wh = ((pos_pred[:, 2:4].sigmoid() * 2)**2 *
                           assigned['anchors'])
                ciou = bbox_ciou_yolov5(
                    torch.cat((pred_xy, pred_wh), 1),
                    assigned['target_boxes'])
                loss_box = loss_box + (1.0 - ciou).mean()
                target_obj[pos_index] = ciou.detach().clamp(0).to(
                    target_obj.dtype)
                if self.num_classes > 1:
                    terms = self._class_loss_terms(pos_pred[:, 5:],
                                                   assigned['labels'])
                    for name, value in terms.items():
                        cls_terms[name] = cls_terms.get(name, zero) + value
            loss_obj = loss_obj + self.obj_level_weights[level] * \
                F.binary_cross_entropy_with_logits(pred[..., 4], target_obj)

        level_scale = 3.0 / self.num_levels
        batch_scale = num_imgs * get_world_size()
        losses = dict(
            loss_bbox=loss_box * self.box_gain * level_scale * batch_scale,
            loss_obj=loss_obj * self.obj_gain * (self.imgsz / 640)**2 *
            level_scale * batch_scale)
        if not cls_terms:
            names = (('loss_cls_ce', 'loss_cls_cost')
                     if hasattr(self.loss_cls, 'loss_parts') else
                     ('loss_cls', ))
            cls_terms = {name: zero for name in names}
        cls_scale = self.num_classes / 80 * level_scale * batch_scale
        for name, value in cls_terms.items():
            losses[name] = value * cls_scale
        return losses

    # ------------------------------------------------------------- inference
    def _decode(self, pred_maps: Sequence[Tensor]) -> Tensor:
        """Decode all levels to (N, num_priors, 4 + 1 + nc).

        Columns: x1, y1, x2, y2 (pixels of the network input), obj logit,
        class logits; prior order = mmdet's (level, cell, anchor).
        """
        self._sync_prior_generator()
        featmap_sizes = [pred_map.shape[-2:] for pred_map in pred_maps]
        mlvl_priors = self.prior_generator.grid_priors(
            featmap_sizes, dtype=pred_maps[0].dtype,
            device=pred_maps[0].device)
        decoded = []
        for pred_map, priors, stride in zip(pred_maps, mlvl_priors,
                                            self.featmap_strides):
            num_imgs = pred_map.shape[0]
            # (N, na, H, W, A) -> (N, H, W, na, A): cell-major, anchor-minor,
            # the order of grid_priors.
            pred = self._split_levels(pred_map).permute(0, 2, 3, 1, 4)
            pred = pred.reshape(num_imgs, -1, self.num_attrib)
            centres = (priors[:, :2] + priors[:, 2:]) / 2
            anchor_wh = priors[:, 2:] - priors[:, :2]
            # (2 s - 0.5 + cell) * stride, cell * stride = centre - stride/2
            xy = (pred[..., :2].sigmoid() * 2 - 1.0) * stride + centres
            wh = (pred[..., 2:4].sigmoid() * 2)**2 * anchor_wh
            decoded.append(
                torch.cat((xy - wh / 2, xy + wh / 2, pred[..., 4:]), -1))
        return torch.cat(decoded, 1)

    def predict_by_feat(self,
                        pred_maps: Sequence[Tensor],
                        batch_img_metas: Sequence[dict],
                        cfg: Optional[dict] = None,
                        rescale: bool = False,
                        with_nms: bool = True) -> List[InstanceData]:
        """Reference ``non_max_suppression`` + ``scale_boxes`` per image.

        Returns:
            list[InstanceData]: per image ``bboxes`` (k, 4) xyxy, ``scores``
            (k,) = obj * cls, ``labels`` (k,), ``cls_probs`` (k, nc).
        """
        cfg = copy.deepcopy(self.test_cfg if cfg is None else cfg)
        cfg = ConfigDict(cfg or {})
        decoded = self._decode(pred_maps)
        return [
            self._predict_single(preds, img_meta, cfg, rescale, with_nms)
            for preds, img_meta in zip(decoded, batch_img_metas)
        ]

    def _predict_single(self, preds: Tensor, img_meta: dict, cfg: ConfigDict,
                        rescale: bool, with_nms: bool) -> InstanceData:
        score_thr = cfg.get('score_thr', 0.001)
        bboxes = preds[:, :4]
        objectness = preds[:, 4].sigmoid()
        cls_probs = preds[:, 5:].sigmoid()
        candidates = objectness > score_thr
        bboxes = bboxes[candidates]
        cls_probs = cls_probs[candidates]
        scores = cls_probs * objectness[candidates, None]

        if cfg.get('multi_label', True) and self.num_classes > 1:
            det_inds, labels = (scores > score_thr).nonzero(as_tuple=True)
            det_scores = scores[det_inds, labels]
        else:
            det_scores, labels = scores.max(1)
            det_inds = (det_scores > score_thr).nonzero(as_tuple=True)[0]
            det_scores, labels = det_scores[det_inds], labels[det_inds]
        order = det_scores.argsort(descending=True, stable=True)
        nms_pre = cfg.get('nms_pre', 30000)
        if nms_pre > 0:
            order = order[:nms_pre]
        det_inds, labels, det_scores = (det_inds[order], labels[order],
                                        det_scores[order])
        det_bboxes = bboxes[det_inds]
        if with_nms and det_inds.numel() > 0:
            keep, kept_scores = self._nms(det_bboxes, det_scores, labels,
                                          cfg)
            det_inds, labels, det_bboxes = (det_inds[keep], labels[keep],
                                            det_bboxes[keep])
            det_scores = det_scores[keep] if kept_scores is None \
                else kept_scores
        results = InstanceData(
            bboxes=det_bboxes,
            scores=det_scores,
            labels=labels,
            cls_probs=cls_probs[det_inds])
        if rescale:
            results.bboxes = self._rescale_boxes(results.bboxes, img_meta)
        return results

    @staticmethod
    def _nms(bboxes: Tensor, scores: Tensor, labels: Tensor,
             cfg: ConfigDict) -> Tuple[Tensor, Optional[Tensor]]:
        """Kept indices (best first, at most ``max_per_img``) and, for NMS
        types that rescore (soft-NMS), the new scores (else None).

        ``nms=dict(type='nms', iou_threshold=t[, class_agnostic])`` runs
        :func:`nms_top_k`; any other ``nms`` config goes to mmcv's
        ``batched_nms``.
        """
        nms_cfg = dict(cfg.get('nms', dict(type='nms', iou_threshold=0.6)))
        max_num = cfg.get('max_per_img', 300)
        if (nms_cfg.get('type', 'nms') == 'nms'
                and set(nms_cfg) <= {'type', 'iou_threshold',
                                     'class_agnostic'}):
            if nms_cfg.get('class_agnostic', False):
                labels = torch.zeros_like(labels)
            keep = nms_top_k(bboxes, labels,
                             nms_cfg.get('iou_threshold', 0.6), max_num)
            return keep, None
        dets, keep = batched_nms(bboxes, scores, labels, nms_cfg)
        if max_num > 0:
            dets, keep = dets[:max_num], keep[:max_num]
        return keep, dets[:, -1]

    @staticmethod
    def _rescale_boxes(bboxes: Tensor, img_meta: dict) -> Tensor:
        """Network-input boxes -> original image (reference scale_boxes)."""
        if 'scale_factor' not in img_meta:
            raise KeyError(
                'YOLOv5Head: rescale=True needs img_meta["scale_factor"] '
                '(w_scale, h_scale); keep "scale_factor" in PackDetInputs '
                'meta_keys')
        pad_param = img_meta.get('pad_param')
        if pad_param is not None:
            top, _, left, _ = [float(v) for v in pad_param]
            bboxes = bboxes - bboxes.new_tensor([left, top, left, top])
        scale_w, scale_h = [float(v) for v in img_meta['scale_factor']][:2]
        bboxes = bboxes / bboxes.new_tensor([scale_w, scale_h] * 2)
        if 'ori_shape' in img_meta:
            height, width = img_meta['ori_shape'][:2]
            bboxes[:, 0::2] = bboxes[:, 0::2].clamp(0, width)
            bboxes[:, 1::2] = bboxes[:, 1::2].clamp(0, height)
        return bboxes
