"""mmdet's DetDataPreprocessor, converting equal-sized images straight into
one batch tensor."""
from __future__ import annotations

from typing import Sequence

import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.registry import MODELS
from mmengine.model import ImgDataPreprocessor

from csdet.datasets.collate import tensors_from_arrays


class _StackedImgDataPreprocessor(ImgDataPreprocessor):
    """The image part: equal-sized images (a list, or compact_collate's
    stacked tensor) are written into one preallocated float batch (channel
    flip and dtype conversion in the copy), then normalised in place;
    anything else goes to mmengine unchanged. NumPy instance fields from
    ``compact_collate`` become tensors first."""

    def _stackable(self, inputs: Sequence | torch.Tensor) -> bool:
        if isinstance(inputs, torch.Tensor):  # compact_collate's batch
            if inputs.dim() != 4:
                return False
        elif not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            return False
        elif not all(isinstance(image, torch.Tensor) for image in inputs):
            return False
        elif inputs[0].dim() != 3 or len(
                {(image.shape, image.dtype, image.device)
                 for image in inputs}) != 1:
            return False
        channels, height, width = inputs[0].shape
        divisor = self.pad_size_divisor
        if height % divisor or width % divisor:
            return False  # needs padding: mmengine's path
        if self._channel_conversion and channels != 3:
            return False
        return not self._enable_normalize or self.mean.shape[0] in (
            1, channels)

    def forward(self, data: dict, training: bool = False) -> dict:
        tensors_from_arrays(data.get('data_samples'))
        data = self.cast_data(data)
        inputs = data['inputs']
        if not self._stackable(inputs):
            return super().forward(data, training)
        batch = torch.empty((len(inputs), ) + tuple(inputs[0].shape),
                            dtype=torch.float32, device=inputs[0].device)
        order = (2, 1, 0) if self._channel_conversion else range(
            inputs[0].shape[0])
        if isinstance(inputs, torch.Tensor):
            for channel, source in enumerate(order):
                batch[:, channel].copy_(inputs[:, source])
        else:
            for target, image in zip(batch, inputs):
                for channel, source in enumerate(order):
                    target[channel].copy_(image[source])
        if self._enable_normalize:
            batch.sub_(self.mean).div_(self.std)
        data['inputs'] = batch
        data.setdefault('data_samples', None)
        return data


@MODELS.register_module()
class StackedDetDataPreprocessor(DetDataPreprocessor,
                                 _StackedImgDataPreprocessor):
    """``DetDataPreprocessor`` whose image conversion writes a list of
    equal-sized images (e.g. the uint8 batch of a fixed-size training
    pipeline) directly into one float batch: no per-image temporaries and no
    stacking copy. Also takes ``compact_collate``'s batch (one stacked
    tensor, NumPy instance fields). Inputs, ``batch_input_shape`` and
    ``pad_shape`` equal ``DetDataPreprocessor``'s bit for bit; images of
    different sizes, or sizes that need padding, take its own path. Arguments: those of
    ``DetDataPreprocessor``.
    """
