"""Detection-to-ground-truth matching shared by the csdet metrics.

One rule everywhere, COCO evaluation's (pycocotools; VOC's instead gives
each detection its highest-IoU ground truth even when taken, and counts
it a duplicate false positive): within one image,
detections are visited in descending score order (ties keep the model's
output order, i.e. a stable sort); each detection takes the still-unmatched
ground truth with the highest IoU if that IoU is >= ``iou_thr`` (IoU ties go
to the lower ground-truth index). A detection that finds no free ground
truth but overlaps an *ignored* ground truth (``ignore_flag``/"difficult")
with IoU >= ``iou_thr`` is dropped (neither a hit nor a false alarm);
anything else is unmatched. So each ground truth gets at most one detection,
the most confident one that covers it, and a duplicate detection of an
already-taken ground truth is unmatched.

Because each decision depends only on the higher-scored detections, the
matching of the detections above any score threshold is a prefix of the
matching of all detections: one pass over all of them serves every
threshold (used by the F1 threshold sweep).

IoU is mmdet's :func:`mmdet.structures.bbox.bbox_overlaps` (no +1 pixel
offset, like pycocotools).
"""
from typing import Optional

import numpy as np
import torch
from mmdet.structures.bbox import bbox_overlaps

# Values of ``greedy_match``'s result for detections without a ground truth.
UNMATCHED = -1
IGNORED = -2


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """IoU matrix ``[len(boxes1), len(boxes2)]`` of xyxy boxes."""
    if len(boxes1) == 0 or len(boxes2) == 0:
        return np.zeros((len(boxes1), len(boxes2)))
    ious = bbox_overlaps(
        torch.as_tensor(boxes1, dtype=torch.float64).reshape(-1, 4),
        torch.as_tensor(boxes2, dtype=torch.float64).reshape(-1, 4))
    return ious.numpy()


def greedy_match(scores: np.ndarray,
                 det_bboxes: np.ndarray,
                 gt_bboxes: np.ndarray,
                 iou_thr: float = 0.5,
                 ignored_bboxes: Optional[np.ndarray] = None) -> np.ndarray:
    """Match the detections of one image to its ground truths (rule above).

    Args:
        scores: ``[D]`` detection scores.
        det_bboxes: ``[D, 4]`` xyxy detection boxes.
        gt_bboxes: ``[G, 4]`` xyxy ground-truth boxes (not ignored).
        iou_thr: minimum IoU of a match (inclusive).
        ignored_bboxes: ``[I, 4]`` xyxy ignored ground-truth boxes.

    Returns:
        ``[D]`` int64: the matched ground-truth index in ``[0, G)``,
        ``UNMATCHED`` (-1) or ``IGNORED`` (-2).
    """
    num_dets = len(scores)
    assignment = np.full(num_dets, UNMATCHED, dtype=np.int64)
    if num_dets == 0:
        return assignment
    ious = box_iou(det_bboxes, gt_bboxes)
    if ignored_bboxes is not None and len(ignored_bboxes):
        covers_ignored = (box_iou(det_bboxes, ignored_bboxes) >=
                          iou_thr).any(axis=1)
    else:
        covers_ignored = np.zeros(num_dets, dtype=bool)
    # a detection covering an ignored gt is dropped unless it finds a free gt
    assignment[covers_ignored] = IGNORED
    gt_taken = np.zeros(len(gt_bboxes), dtype=bool)
    may_match = (ious >= iou_thr).any(axis=1)
    for det_index in np.argsort(-np.asarray(scores), kind='stable'):
        if not may_match[det_index]:
            continue  # no ground truth within reach: result set above
        candidate_ious = np.where(gt_taken, -1.0, ious[det_index])
        if len(candidate_ious) and candidate_ious.max() >= iou_thr:
            gt_index = int(candidate_ious.argmax())
            gt_taken[gt_index] = True
            assignment[det_index] = gt_index
    return assignment
