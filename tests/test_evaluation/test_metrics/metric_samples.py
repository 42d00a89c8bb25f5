"""Hand-made evaluation samples shared by the metric tests (a helper
module imported by the test files, not a test).

Three classes ('a', 'b', 'c') and the explicit cost matrix (normalize='none')

    C = [[0, 1, 4],
         [2, 0, 1],
         [8, 3, 0]]

Image 1: ground truths G0 = [0, 0, 10, 10] class a, G1 = [20, 20, 30, 30]
class c. Detections (score, label, box, cls_probs):
    D0 0.90 a [0, 0, 10, 10]   [0.7, 0.2, 0.1]  IoU(G0) = 1
    D1 0.80 a [1, 0, 10, 10]   [0.5, 0.5, 0.0]  IoU(G0) = 0.9 (duplicate)
    D2 0.60 b [20, 20, 30, 35] [0.1, 0.5, 0.4]  IoU(G1) = 100/150 = 0.667
    D3 0.95 c [50, 50, 60, 60] [0.0, 0.1, 0.9]  no overlap
Image 2: one ground truth [0, 0, 20, 20] class b, no detection.
Image 3: no ground truth, one detection 0.50 a [0, 0, 5, 5] [0.6, 0.3, 0.1].

Bayes minimum-risk labels (R_k = sum_c p_c C[c, k]):
    D0 R = [1.2, 1.0, 3.0] -> b     D1 R = [1.0, 0.5, 2.5] -> b
    D2 R = [4.2, 1.3, 0.9] -> c     D3 R = [7.4, 2.7, 0.1] -> c
    img3 R = [1.4, 0.9, 2.7] -> b
"""
from typing import Optional, Sequence

import numpy as np
import torch

CLASSES = ('a', 'b', 'c')
COSTS = [[0., 1., 4.], [2., 0., 1.], [8., 3., 0.]]
COST_SPEC = dict(cost_matrix=COSTS, normalize='none')


def make_sample(det_bboxes: Sequence = (),
                scores: Sequence = (),
                labels: Sequence = (),
                cls_probs: Optional[Sequence] = None,
                gt_bboxes: Sequence = (),
                gt_labels: Sequence = (),
                ignored_bboxes: Sequence = (),
                ignored_labels: Sequence = (),
                img_id: int = 0,
                shape=(100, 100)) -> dict:
    """A data sample as the Evaluator hands it to metrics (a dict, after
    DetDataSample.to_dict()), ground truth as ``gt_instances``."""
    pred = dict(
        bboxes=torch.tensor(det_bboxes, dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor(scores, dtype=torch.float32),
        labels=torch.tensor(labels, dtype=torch.int64))
    if cls_probs is not None:
        cls_probs = np.asarray(cls_probs, dtype=np.float32)
        if cls_probs.size == 0:
            cls_probs = np.zeros((0, len(CLASSES)), dtype=np.float32)
        pred['cls_probs'] = torch.from_numpy(cls_probs)
    return dict(
        img_id=img_id,
        ori_shape=shape,
        img_shape=shape,
        scale_factor=(1.0, 1.0),
        pred_instances=pred,
        gt_instances=dict(
            bboxes=torch.tensor(gt_bboxes, dtype=torch.float32).reshape(
                -1, 4),
            labels=torch.tensor(gt_labels, dtype=torch.int64)),
        ignored_instances=dict(
            bboxes=torch.tensor(ignored_bboxes,
                                dtype=torch.float32).reshape(-1, 4),
            labels=torch.tensor(ignored_labels, dtype=torch.int64)))


def example_samples(with_probs: bool = True) -> list:
    """The three images of the module docstring."""
    def probs(values):
        return values if with_probs else None

    return [
        make_sample(
            det_bboxes=[[0, 0, 10, 10], [1, 0, 10, 10], [20, 20, 30, 35],
                        [50, 50, 60, 60]],
            scores=[0.9, 0.8, 0.6, 0.95],
            labels=[0, 0, 1, 2],
            cls_probs=probs([[0.7, 0.2, 0.1], [0.5, 0.5, 0.0],
                             [0.1, 0.5, 0.4], [0.0, 0.1, 0.9]]),
            gt_bboxes=[[0, 0, 10, 10], [20, 20, 30, 30]],
            gt_labels=[0, 2],
            img_id=1),
        make_sample(
            cls_probs=probs(np.zeros((0, 3))),
            gt_bboxes=[[0, 0, 20, 20]],
            gt_labels=[1],
            img_id=2),
        make_sample(
            det_bboxes=[[0, 0, 5, 5]],
            scores=[0.5],
            labels=[0],
            cls_probs=probs([[0.6, 0.3, 0.1]]),
            img_id=3),
    ]


def run_metric(metric, samples, classes=CLASSES) -> dict:
    """Set dataset_meta, process one sample per batch, compute."""
    metric.dataset_meta = dict(classes=classes)
    for sample in samples:
        metric.process({}, [sample])
    return metric.compute_metrics(metric.results)
