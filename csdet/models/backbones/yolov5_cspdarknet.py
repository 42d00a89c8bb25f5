"""YOLOv5 (v6.0+ layout, Ultralytics v7.0) backbone as an mmdet module."""
from typing import Sequence, Tuple

import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers.yolov5_layers import (SPPF, YOLOV5_ACT_CFG, YOLOV5_NORM_CFG,
                                    reset_conv_parameters, scale_channels,
                                    scale_depth, yolov5_c3, yolov5_conv)


@MODELS.register_module()
class YOLOv5CSPDarknet(BaseModule):
    """CSP-Darknet53 backbone of YOLOv5 v7.0 (``yolov5{n,s,m,l,x}.yaml``).

    Layout (base widths, before ``widen_factor``; repeats before
    ``deepen_factor``)::

        stem    Conv(64, k=6, s=2, p=2)                         stride 2
        stage1  Conv(128, 3, 2)  C3(128) x3                     stride 4
        stage2  Conv(256, 3, 2)  C3(256) x6       -> P3         stride 8
        stage3  Conv(512, 3, 2)  C3(512) x9       -> P4         stride 16
        stage4  Conv(1024, 3, 2) C3(1024) x3, SPPF(1024, 5) -> P5 stride 32

    Channels are ``ceil(c * widen_factor / 8) * 8`` and repeats
    ``max(round(n * deepen_factor), 1)``; backbone C3s use shortcuts.

    Args:
        deepen_factor (float): depth multiple d (n/s 0.33, m 0.67, l 1.0,
            x 1.33).
        widen_factor (float): width multiple w (n 0.25, s 0.5, m 0.75,
            l 1.0, x 1.25).
        in_channels (int): image channels. Defaults to 3.
        out_indices (Sequence[int]): which of (stem, stage1, ..., stage4) to
            return; (2, 3, 4) gives P3, P4, P5.
        frozen_stages (int): freeze (eval mode, no grad) the stem and the
            first ``frozen_stages`` stages; -1 freezes nothing.
        spp_kernel_size (int): SPPF pool size. Defaults to 5.
        norm_cfg / act_cfg (dict): BN(eps 1e-3, momentum 0.03) / SiLU.
        norm_eval (bool): keep BN layers in eval mode while training.

    Shapes: input (N, in_channels, H, W) with H, W multiples of 32; output a
    tuple with, for index i, (N, C_i, H / 2^(i+1), W / 2^(i+1)), e.g. for
    yolov5s (2, 3, 4) -> C = 128, 256, 512 at strides 8, 16, 32.
    """

    # (base out channels, base C3 repeats) of stage1..stage4.
    stage_settings = ((128, 3), (256, 6), (512, 9), (1024, 3))
    stem_channels = 64

    def __init__(self,
                 deepen_factor: float = 1.0,
                 widen_factor: float = 1.0,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (2, 3, 4),
                 frozen_stages: int = -1,
                 spp_kernel_size: int = 5,
                 norm_cfg: dict = YOLOV5_NORM_CFG,
                 act_cfg: dict = YOLOV5_ACT_CFG,
                 norm_eval: bool = False,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        num_layers = len(self.stage_settings) + 1
        if not set(out_indices).issubset(range(num_layers)):
            raise ValueError(
                f'YOLOv5CSPDarknet: out_indices={tuple(out_indices)} must be '
                f'indices into (stem, stage1, ..., stage4), i.e. in '
                f'0..{num_layers - 1}')
        if frozen_stages not in range(-1, num_layers):
            raise ValueError(
                f'YOLOv5CSPDarknet: frozen_stages={frozen_stages} must be in '
                f'-1..{num_layers - 1}')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        stem_out = scale_channels(self.stem_channels, widen_factor)
        self.stem = yolov5_conv(in_channels, stem_out, 6, stride=2,
                                padding=2, norm_cfg=norm_cfg,
                                act_cfg=act_cfg)
        self.layers = ['stem']
        previous = stem_out
        last = len(self.stage_settings) - 1
        for index, (base_out, base_blocks) in enumerate(self.stage_settings):
            out = scale_channels(base_out, widen_factor)
            stage = [
                yolov5_conv(previous, out, 3, stride=2, norm_cfg=norm_cfg,
                            act_cfg=act_cfg),
                yolov5_c3(out, out, scale_depth(base_blocks, deepen_factor),
                          shortcut=True, norm_cfg=norm_cfg, act_cfg=act_cfg)
            ]
            if index == last:
                stage.append(SPPF(out, out, spp_kernel_size,
                                  norm_cfg=norm_cfg, act_cfg=act_cfg))
            name = f'stage{index + 1}'
            self.add_module(name, nn.Sequential(*stage))
            self.layers.append(name)
            previous = out
        reset_conv_parameters(self)
        self._freeze_stages()

    def init_weights(self) -> None:
        """mmengine init, then PyTorch-default convs as in the reference."""
        super().init_weights()
        if self.init_cfg is None:
            reset_conv_parameters(self)

    def _freeze_stages(self) -> None:
        for index in range(self.frozen_stages + 1):
            layer = getattr(self, self.layers[index])
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'YOLOv5CSPDarknet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        outs = []
        for index, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)
