"""YOLOv5 (Ultralytics v7.0) PAN neck as an mmdet module."""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor

from ..layers.yolov5_layers import (YOLOV5_ACT_CFG, YOLOV5_NORM_CFG,
                                    reset_conv_parameters, scale_channels,
                                    scale_depth, yolov5_c3, yolov5_conv)


@MODELS.register_module()
class YOLOv5PAFPN(BaseModule):
    """The PAN "head" section of ``yolov5*.yaml`` (v6.0+), for 3 levels.

    With base channels in = out = (256, 512, 1024) this is exactly::

        r5 = Conv(P5, 512, 1)                                   (layer 10)
        t4 = C3(cat(up(r5), P4), 512, shortcut=False)           (13)
        r4 = Conv(t4, 256, 1)                                   (14)
        N3 = C3(cat(up(r4), P3), 256, False)       -> out P3     (17)
        N4 = C3(cat(Conv(N3, 256, 3, 2), r4), 512, False) -> P4  (20)
        N5 = C3(cat(Conv(N4, 512, 3, 2), r5), 1024, False) -> P5 (23)

    ``up`` is nearest 2x upsampling; concatenation order follows the yaml
    (the upsampled / downsampled tensor first). In general: reduce conv of
    level i maps in_channels[i] -> in_channels[i-1]; the top-down C3 of level
    i outputs in_channels[i] (out_channels[0] at the lowest level); the
    bottom-up downsample keeps out_channels[i] and its C3 outputs
    out_channels[i+1].

    Args:
        in_channels (Sequence[int]): base (unscaled) channels of the backbone
            outputs, low to high level. Defaults to (256, 512, 1024).
        out_channels (Sequence[int]): base channels of the outputs.
        deepen_factor / widen_factor (float): model depth / width multiples
            (see :class:`YOLOv5CSPDarknet`).
        num_csp_blocks (int): base bottleneck repeats of each C3 (3).
        norm_cfg / act_cfg (dict): BN(eps 1e-3, momentum 0.03) / SiLU.

    Shapes: inputs (N, s(in_channels[i]), H_i, W_i) with H_i = 2 H_{i+1};
    outputs (N, s(out_channels[i]), H_i, W_i), s = width scaling.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (256, 512, 1024),
                 out_channels: Sequence[int] = (256, 512, 1024),
                 deepen_factor: float = 1.0,
                 widen_factor: float = 1.0,
                 num_csp_blocks: int = 3,
                 norm_cfg: dict = YOLOV5_NORM_CFG,
                 act_cfg: dict = YOLOV5_ACT_CFG,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != len(out_channels) or len(in_channels) < 2:
            raise ValueError(
                'YOLOv5PAFPN: in_channels and out_channels must list the same '
                f'number (>= 2) of levels, got {list(in_channels)} and '
                f'{list(out_channels)}')
        self.num_levels = len(in_channels)
        ins = [scale_channels(c, widen_factor) for c in in_channels]
        outs = [scale_channels(c, widen_factor) for c in out_channels]
        num_blocks = scale_depth(num_csp_blocks, deepen_factor)
        conv_kwargs = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)

        self.upsample = nn.Upsample(scale_factor=2, mode='nearest')
        # Top-down path, built from the highest level down.
        self.reduce_layers = nn.ModuleList()
        self.top_down_blocks = nn.ModuleList()
        for level in range(self.num_levels - 1, 0, -1):
            self.reduce_layers.append(
                yolov5_conv(ins[level], ins[level - 1], 1, **conv_kwargs))
            block_out = ins[level - 1] if level > 1 else outs[0]
            self.top_down_blocks.append(
                yolov5_c3(ins[level - 1] * 2, block_out, num_blocks,
                          shortcut=False, **conv_kwargs))
        # Bottom-up path, from the lowest level up.
        self.downsample_layers = nn.ModuleList()
        self.bottom_up_blocks = nn.ModuleList()
        for level in range(self.num_levels - 1):
            self.downsample_layers.append(
                yolov5_conv(outs[level], outs[level], 3, stride=2,
                            **conv_kwargs))
            self.bottom_up_blocks.append(
                yolov5_c3(outs[level] + ins[level], outs[level + 1],
                          num_blocks, shortcut=False, **conv_kwargs))
        reset_conv_parameters(self)

    def init_weights(self) -> None:
        """mmengine init, then PyTorch-default convs as in the reference."""
        super().init_weights()
        if self.init_cfg is None:
            reset_conv_parameters(self)

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        if len(inputs) != self.num_levels:
            raise ValueError(f'YOLOv5PAFPN expects {self.num_levels} feature '
                             f'maps, got {len(inputs)}')
        # laterals[k] is the reduce-conv output of level num_levels-1-k,
        # reused by the bottom-up path (layers 10 and 14 of the yaml).
        laterals: List[Tensor] = []
        top = inputs[-1]
        for step, level in enumerate(range(self.num_levels - 1, 0, -1)):
            reduced = self.reduce_layers[step](top)
            laterals.append(reduced)
            merged = torch.cat((self.upsample(reduced), inputs[level - 1]), 1)
            top = self.top_down_blocks[step](merged)
        outs = [top]
        for level in range(self.num_levels - 1):
            lateral = laterals[self.num_levels - 2 - level]
            down = self.downsample_layers[level](outs[-1])
            outs.append(self.bottom_up_blocks[level](
                torch.cat((down, lateral), 1)))
        return tuple(outs)
