import math

import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from csdet.models.backbones import YOLOv5CSPDarknet


def test_output_shapes_yolov5s():
    backbone = YOLOv5CSPDarknet(deepen_factor=0.33, widen_factor=0.5)
    backbone.eval()
    with torch.no_grad():
        outs = backbone(torch.rand(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 128, 8, 12),
                                              (2, 256, 4, 6),
                                              (2, 512, 2, 3)]


def test_all_out_indices_and_strides():
    backbone = YOLOv5CSPDarknet(
        deepen_factor=0.33, widen_factor=0.25, out_indices=(0, 1, 2, 3, 4))
    backbone.eval()
    with torch.no_grad():
        outs = backbone(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [(16, 32, 32), (32, 16, 16),
                                                  (64, 8, 8), (128, 4, 4),
                                                  (256, 2, 2)]


def test_layout_repeats_and_sppf_last():
    backbone = YOLOv5CSPDarknet(deepen_factor=0.67, widen_factor=0.75)
    # stem: 6x6 stride-2 conv with padding 2.
    assert backbone.stem.conv.kernel_size == (6, 6)
    assert backbone.stem.conv.padding == (2, 2)
    assert backbone.stem.conv.out_channels == 48
    # yolov5m repeats: 3, 6, 9, 3 -> 2, 4, 6, 2.
    blocks = [len(getattr(backbone, f'stage{i}')[1].blocks) for i in (1, 2, 3,
                                                                      4)]
    assert blocks == [2, 4, 6, 2]
    assert type(backbone.stage4[-1]).__name__ == 'SPPF'
    # backbone C3s keep their residuals.
    assert all(block.add_identity for block in backbone.stage2[1].blocks)


def test_frozen_stages_and_norm_eval():
    backbone = YOLOv5CSPDarknet(
        deepen_factor=0.33, widen_factor=0.25, frozen_stages=1,
        norm_eval=True)
    backbone.train()
    for name in ('stem', 'stage1'):
        layer = getattr(backbone, name)
        assert all(not p.requires_grad for p in layer.parameters())
        assert not layer.training
    assert all(p.requires_grad for p in backbone.stage2.parameters())
    assert all(not m.training for m in backbone.modules()
               if isinstance(m, _BatchNorm))


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match='out_indices'):
        YOLOv5CSPDarknet(out_indices=(5, ))
    with pytest.raises(ValueError, match='frozen_stages'):
        YOLOv5CSPDarknet(frozen_stages=7)


def test_init_weights_keeps_pytorch_default_conv_init():
    backbone = YOLOv5CSPDarknet(deepen_factor=0.33, widen_factor=0.25)
    backbone.init_weights()
    for module in backbone.modules():
        if isinstance(module, nn.Conv2d):
            fan_in = module.in_channels * math.prod(module.kernel_size)
            # default kaiming_uniform(a=sqrt(5)) bound = 1 / sqrt(fan_in)
            assert module.weight.abs().max() <= 1 / math.sqrt(fan_in) + 1e-7
