"""The positive samples a detector's class loss sees, with their outputs.

Paper Eq. 16 averages ``P_i . C[t_i]`` over "the positive samples used to
calculate the loss": YOLOv5's assigned anchor/cell pairs, SSD's positive
anchors, Faster R-CNN's sampled positive RoIs. :func:`loss_positives` runs
the model's own ``loss()`` on one image with its ground truth and records
the class loss's inputs, so every detector's assigner decides, unchanged.
"""
from contextlib import contextmanager
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.model import is_model_wrapper
from mmengine.structures import InstanceData
from torch import Tensor

LossCall = Tuple[Tensor, Tensor]


def class_loss_module(model: nn.Module) -> nn.Module:
    """The object-class loss: ``roi_head.bbox_head.loss_cls`` for two-stage
    detectors (not the RPN's), else ``bbox_head.loss_cls``.

    Raises:
        AttributeError: the model has neither.
    """
    for path in ('roi_head.bbox_head.loss_cls', 'bbox_head.loss_cls'):
        node = model
        for name in path.split('.'):
            node = getattr(node, name, None)
        if isinstance(node, nn.Module):
            return node
    raise AttributeError(
        f'{type(model).__name__} has no roi_head.bbox_head.loss_cls or '
        'bbox_head.loss_cls; the loss-side cost needs a detector whose head '
        'computes its class loss through a loss_cls module')


@contextmanager
def record_loss_inputs(loss: nn.Module) -> Iterator[List[LossCall]]:
    """Record ``(cls_score, label)`` of every outermost call of ``loss``
    (``forward`` or ``loss_parts``) inside the ``with`` block."""
    calls: List[LossCall] = []
    depth = [0]
    patched = [name for name in ('forward', 'loss_parts')
               if callable(getattr(loss, name, None))]

    def wrap(method):

        def recorder(cls_score, label, *args, **kwargs):
            if depth[0] == 0:
                calls.append((cls_score.detach(), label.detach()))
            depth[0] += 1
            try:
                return method(cls_score, label, *args, **kwargs)
            finally:
                depth[0] -= 1

        return recorder

    for name in patched:
        setattr(loss, name, wrap(getattr(loss, name)))
    try:
        yield calls
    finally:
        for name in patched:
            delattr(loss, name)


def positives_from_calls(calls: Sequence[LossCall],
                         use_sigmoid: bool) -> Dict[str, np.ndarray]:
    """Class probabilities and true labels of the positive samples.

    Sigmoid losses get ``[S, N]`` logits and ``[S]`` labels (or ``[S, N]``
    soft targets, read by argmax); softmax losses ``[S, N + 1]`` logits with
    background label N. Positives are the samples labelled ``0 <= t < N``.

    Returns:
        ``labels`` int64 ``[F]`` and ``probs`` float32 ``[F, N]`` (sigmoid
        outputs, or the softmax's object columns).
    """
    labels, probs = [], []
    for cls_score, label in calls:
        score = cls_score.float()
        if use_sigmoid:
            prob = score.sigmoid()
        else:
            prob = score.softmax(-1)[:, :-1]
        if label.dim() == 2:
            label = label.argmax(-1)
        label = label.long()
        keep = (label >= 0) & (label < prob.shape[1])
        labels.append(label[keep].cpu())
        probs.append(prob[keep].cpu())
    if not labels:
        return dict(labels=np.zeros(0, np.int64),
                    probs=np.zeros((0, 0), np.float32))
    return dict(labels=torch.cat(labels).numpy(),
                probs=torch.cat(probs).numpy().astype(np.float32))


def gt_in_input_frame(metainfo: dict) -> InstanceData:
    """The dataset's ``instances`` (original pixels) mapped to the network
    input: scaled by ``scale_factor``, shifted by ``pad_param``'s left/top
    (letterbox). Ignored instances are left out, as ``PackDetInputs`` does.

    Raises:
        KeyError: no ``instances`` or ``scale_factor`` in the metainfo.
        ValueError: the image was flipped (no test pipeline flips).
    """
    for key in ('instances', 'scale_factor'):
        if key not in metainfo:
            raise KeyError(
                f"the loss-side cost needs '{key}' in each data sample's "
                "metainfo: add it to PackDetInputs' meta_keys in the test "
                'pipeline')
    if metainfo.get('flip', False):
        raise ValueError('the loss-side cost cannot map ground truth onto a '
                         'flipped test image; remove the flip from the test '
                         'pipeline')
    kept = [obj for obj in metainfo['instances']
            if not obj.get('ignore_flag', 0)]
    boxes = HorizontalBoxes(
        torch.tensor([obj['bbox'] for obj in kept],
                     dtype=torch.float32).reshape(-1, 4))
    boxes.rescale_(tuple(float(s) for s in metainfo['scale_factor'][:2]))
    pad = metainfo.get('pad_param')
    if pad is not None:  # [top, bottom, left, right]
        boxes.translate_((float(pad[2]), float(pad[0])))
    gt = InstanceData()
    gt.bboxes = boxes
    gt.labels = torch.tensor([obj['bbox_label'] for obj in kept],
                             dtype=torch.long)
    return gt


def loss_positives(model: nn.Module,
                   data_batch: dict) -> List[Dict[str, np.ndarray]]:
    """Per image of a test batch, the class loss's positive samples.

    Args:
        model: a detector (or a wrapper of one) in eval mode.
        data_batch: a collated batch from a test pipeline (``inputs`` list,
            ``data_samples`` with ``instances`` and ``scale_factor``).

    Returns:
        One dict per image: ``labels`` [F_i], ``probs`` [F_i, N] (see
        :func:`positives_from_calls`).
    """
    if is_model_wrapper(model):
        model = model.module
    loss = class_loss_module(model)
    use_sigmoid = bool(getattr(loss, 'use_sigmoid', False))
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() \
        else []
    per_image = []
    for inputs, sample in zip(data_batch['inputs'],
                              data_batch['data_samples']):
        gt_sample = DetDataSample(metainfo=sample.metainfo)
        gt_sample.gt_instances = gt_in_input_frame(sample.metainfo)
        data = model.data_preprocessor(
            dict(inputs=[inputs], data_samples=[gt_sample]), False)
        # Samplers draw random numbers: keep training's random stream as is.
        with torch.no_grad(), torch.random.fork_rng(devices=devices), \
                record_loss_inputs(loss) as calls:
            model.loss(data['inputs'], data['data_samples'])
        per_image.append(positives_from_calls(calls, use_sigmoid))
    return per_image
