"""A training batch that crosses the dataloader-worker boundary cheaply.

Every tensor a worker hands to the training process travels through its
own shared-memory file; mmengine's ``pseudo_collate`` batch of 16 detection
samples holds about 80 (images, boxes, labels, ignored boxes and labels).
:func:`compact_collate` sends the same batch as one image tensor plus
pickled NumPy arrays, and :func:`tensors_from_arrays` (called by
``StackedDetDataPreprocessor``) turns the arrays back into tensors.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from mmdet.structures.bbox import BaseBoxes
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS
from mmengine.structures import BaseDataElement


def _instance_fields(sample: BaseDataElement) -> list:
    """The sample's instance containers (``gt_instances`` and the like)."""
    return [sample.get(key) for key in sample.keys()
            if isinstance(sample.get(key), BaseDataElement)]


def _convert_fields(sample: BaseDataElement, tensor_type: type,
                    convert) -> None:
    for instances in _instance_fields(sample):
        for key in list(instances.keys()):
            value = instances.get(key)
            if isinstance(value, BaseBoxes):
                if isinstance(value.tensor, tensor_type):
                    value.tensor = convert(value.tensor)
            elif isinstance(value, tensor_type):
                instances.set_field(convert(value), key)


@FUNCTIONS.register_module()
def compact_collate(data_batch: Sequence[dict]) -> Any:
    """``pseudo_collate``, then: equal-shaped ``inputs`` stacked into one
    (N, C, H, W) tensor, and the tensors of the data samples' instance
    fields (``gt_instances.bboxes`` boxes included) turned into NumPy arrays
    sharing their memory. Images of different shapes stay a list.
    """
    batch = pseudo_collate(data_batch)
    inputs = batch.get('inputs')
    if (isinstance(inputs, list) and inputs
            and all(isinstance(image, torch.Tensor) for image in inputs)
            and len({(image.shape, image.dtype) for image in inputs}) == 1):
        batch['inputs'] = torch.stack(inputs)
    for sample in batch.get('data_samples') or []:
        _convert_fields(sample, torch.Tensor, lambda tensor: tensor.numpy())
    return batch


def tensors_from_arrays(data_samples: Sequence | None) -> None:
    """Undo :func:`compact_collate`'s arrays in place: every NumPy array
    in the samples' instance fields becomes a tensor on the same memory."""
    for sample in data_samples or []:
        if isinstance(sample, BaseDataElement):
            _convert_fields(sample, np.ndarray, torch.from_numpy)
