"""Building blocks of YOLOv5 (Ultralytics v7.0) on mmcv/mmdet parts.

Reference layers (docs/yolov5.md, "Architecture") and what stands in here:

- ``Conv``  = Conv2d(bias=False) + BatchNorm2d(eps=1e-3, momentum=0.03) + SiLU,
  padding k // 2. :func:`yolov5_conv` returns mmcv's ``ConvModule`` with
  exactly those layers (``bias='auto'`` drops the bias because a norm follows).
- ``C3``    = cv3(cat(m(cv1(x)), cv2(x))), hidden = int(out * 0.5), m = n
  Bottlenecks (1x1 conv to hidden, 3x3 conv back, expansion 1.0, residual when
  shortcut and in == out). mmdet's ``CSPLayer`` with ``expand_ratio=0.5``,
  ``use_depthwise=False``, ``use_cspnext_block=False``,
  ``channel_attention=False`` is the same graph layer by layer
  (main_conv = cv1, short_conv = cv2, final_conv = cv3 on
  cat(main, short); its ``DarknetBottleneck`` gets expansion 1.0: 1x1 then
  3x3/pad 1, identity when in == out), so :func:`yolov5_c3` builds one.
  tests/test_models/test_layers checks it numerically against an
  independent plain-torch C3.
- ``SPPF``  = cv1 (1x1, in // 2), three cascaded MaxPool(k, 1, k // 2), concat
  the four tensors, cv2 (1x1): :class:`SPPF` (mmdet's ``SPPBottleneck`` runs
  parallel pools of 5/9/13, a different graph).

Initialisation: Ultralytics keeps PyTorch's default ``nn.Conv2d`` init, while
``ConvModule`` re-initialises its conv with Kaiming-normal (fan_out).
:func:`reset_conv_parameters` restores the PyTorch default; the backbone and
neck call it from ``__init__`` and ``init_weights``.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.layers import CSPLayer
from mmengine.model import BaseModule
from torch import Tensor

# Ultralytics initialize_weights(): every BatchNorm2d gets eps 1e-3 and
# momentum 0.03; every activation is SiLU.
YOLOV5_NORM_CFG = dict(type='BN', eps=0.001, momentum=0.03)
YOLOV5_ACT_CFG = dict(type='SiLU')


def make_divisible(channels: float, divisor: int = 8) -> int:
    """Ultralytics channel rounding: ``ceil(channels / divisor) * divisor``."""
    return int(math.ceil(channels / divisor) * divisor)


def scale_channels(base_channels: int, widen_factor: float) -> int:
    """Channels of a layer whose yaml width is ``base_channels``."""
    return make_divisible(base_channels * widen_factor, 8)


def scale_depth(base_blocks: int, deepen_factor: float) -> int:
    """Ultralytics repeat rounding: ``max(round(n * d), 1)`` when n > 1."""
    if base_blocks <= 1:
        return base_blocks
    return max(round(base_blocks * deepen_factor), 1)


def yolov5_conv(in_channels: int,
                out_channels: int,
                kernel_size: int = 1,
                stride: int = 1,
                padding: Optional[int] = None,
                norm_cfg: dict = YOLOV5_NORM_CFG,
                act_cfg: dict = YOLOV5_ACT_CFG) -> ConvModule:
    """The reference ``Conv``: Conv2d (no bias) + BN + SiLU.

    Args:
        in_channels / out_channels (int): channels of the input / output.
        kernel_size (int): square kernel size.
        stride (int): stride.
        padding (int, optional): defaults to ``kernel_size // 2``
            (Ultralytics autopad).

    Shapes: (N, in_channels, H, W) -> (N, out_channels, H / stride,
    W / stride) (rounded as Conv2d does).
    """
    if padding is None:
        padding = kernel_size // 2
    return ConvModule(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=padding,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg)


def yolov5_c3(in_channels: int,
              out_channels: int,
              num_blocks: int,
              shortcut: bool = True,
              norm_cfg: dict = YOLOV5_NORM_CFG,
              act_cfg: dict = YOLOV5_ACT_CFG) -> CSPLayer:
    """The reference ``C3`` block as mmdet's ``CSPLayer`` (see module doc).

    Args:
        in_channels / out_channels (int): block input / output channels.
        num_blocks (int): number of bottlenecks (already depth-scaled).
        shortcut (bool): residual connections in the bottlenecks (True in
            the backbone, False in the neck).

    Shapes: (N, in_channels, H, W) -> (N, out_channels, H, W).
    """
    return CSPLayer(
        in_channels,
        out_channels,
        expand_ratio=0.5,
        num_blocks=num_blocks,
        add_identity=shortcut,
        use_depthwise=False,
        use_cspnext_block=False,
        channel_attention=False,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg)


class SPPF(BaseModule):
    """Spatial Pyramid Pooling - Fast (YOLOv5 v6.0+).

    ``cv2(cat(x, m(x), m(m(x)), m(m(m(x)))))`` with ``x = cv1(input)`` and
    ``m`` = MaxPool2d(kernel_size, stride 1, padding kernel_size // 2).

    Args:
        in_channels (int): input channels; cv1 maps them to
            ``in_channels // 2``.
        out_channels (int): output channels of cv2.
        kernel_size (int): max-pool kernel size (5 in the reference).

    Shapes: (N, in_channels, H, W) -> (N, out_channels, H, W).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 5,
                 norm_cfg: dict = YOLOV5_NORM_CFG,
                 act_cfg: dict = YOLOV5_ACT_CFG,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        hidden_channels = in_channels // 2
        self.conv1 = yolov5_conv(in_channels, hidden_channels, 1,
                                 norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.pool = nn.MaxPool2d(
            kernel_size=kernel_size, stride=1, padding=kernel_size // 2)
        self.conv2 = yolov5_conv(hidden_channels * 4, out_channels, 1,
                                 norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        pooled1 = self.pool(x)
        pooled2 = self.pool(pooled1)
        pooled3 = self.pool(pooled2)
        return self.conv2(torch.cat((x, pooled1, pooled2, pooled3), dim=1))


def reset_conv_parameters(module: nn.Module) -> None:
    """Give every ``nn.Conv2d`` in ``module`` PyTorch's default init.

    ``ConvModule`` applies Kaiming-normal init to its conv; Ultralytics YOLOv5
    keeps the ``nn.Conv2d`` default (Kaiming-uniform with a = sqrt(5), bias
    uniform), so this undoes mmcv's choice for fidelity.
    """
    for submodule in module.modules():
        if isinstance(submodule, nn.Conv2d):
            submodule.reset_parameters()
