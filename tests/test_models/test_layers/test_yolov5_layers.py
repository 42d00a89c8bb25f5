"""YOLOv5 building blocks against independent plain-torch formulations.

The reference blocks (docs/yolov5.md, "Architecture") are written out below
with plain torch modules; weights are copied across and outputs compared, so
a wrong kernel size, hidden width, concat order or residual would fail.
"""
import math

import pytest
import torch
import torch.nn as nn

from csdet.models.layers.yolov5_layers import (SPPF, make_divisible,
                                               reset_conv_parameters,
                                               scale_channels, scale_depth,
                                               yolov5_c3, yolov5_conv)


class RefConv(nn.Module):
    """Conv2d(no bias) + BN(eps 1e-3, momentum 0.03) + SiLU, pad k // 2."""

    def __init__(self, c_in, c_out, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class RefBottleneck(nn.Module):

    def __init__(self, c, shortcut):
        super().__init__()
        self.cv1 = RefConv(c, c, 1)
        self.cv2 = RefConv(c, c, 3)
        self.shortcut = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.shortcut else y


class RefC3(nn.Module):
    """cv3(cat(m(cv1(x)), cv2(x))), hidden = out / 2."""

    def __init__(self, c_in, c_out, n, shortcut):
        super().__init__()
        hidden = int(c_out * 0.5)
        self.cv1 = RefConv(c_in, hidden)
        self.cv2 = RefConv(c_in, hidden)
        self.cv3 = RefConv(2 * hidden, c_out)
        self.m = nn.Sequential(
            *[RefBottleneck(hidden, shortcut) for _ in range(n)])

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class RefSPPF(nn.Module):

    def __init__(self, c_in, c_out, k=5):
        super().__init__()
        hidden = c_in // 2
        self.cv1 = RefConv(c_in, hidden)
        self.cv2 = RefConv(hidden * 4, c_out)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


def _randomise(module: nn.Module, seed: int) -> None:
    """Random weights and BN statistics so that every layer matters."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
        for name, buffer in module.named_buffers():
            if name.endswith('running_mean'):
                buffer.copy_(torch.randn(buffer.shape, generator=generator))
            elif name.endswith('running_var'):
                buffer.copy_(
                    torch.rand(buffer.shape, generator=generator) + 0.5)


def _copy_in_order(source: nn.Module, target: nn.Module) -> None:
    """Copy parameters/buffers position by position (shapes must match)."""
    src = list(source.state_dict().items())
    dst = list(target.state_dict().items())
    src = [(k, v) for k, v in src if not k.endswith('num_batches_tracked')]
    dst = [(k, v) for k, v in dst if not k.endswith('num_batches_tracked')]
    assert len(src) == len(dst)
    with torch.no_grad():
        for (src_key, src_value), (dst_key, dst_value) in zip(src, dst):
            assert src_value.shape == dst_value.shape, (src_key, dst_key)
            dst_value.copy_(src_value)


def _ref_c3_in_mmdet_order(ref: RefC3) -> nn.Module:
    """Reorder RefC3's children as CSPLayer registers them:
    main_conv (cv1), short_conv (cv2), final_conv (cv3), blocks (m)."""
    ordered = nn.Module()
    ordered.main_conv = ref.cv1
    ordered.short_conv = ref.cv2
    ordered.final_conv = ref.cv3
    ordered.blocks = ref.m
    return ordered


def test_conv_is_reference_conv():
    conv = yolov5_conv(8, 16, 3, stride=2)
    assert conv.conv.bias is None
    assert conv.conv.kernel_size == (3, 3)
    assert conv.conv.stride == (2, 2)
    assert conv.conv.padding == (1, 1)
    assert isinstance(conv.bn, nn.BatchNorm2d)
    assert conv.bn.eps == pytest.approx(1e-3)
    assert conv.bn.momentum == pytest.approx(0.03)
    assert isinstance(conv.activate, nn.SiLU)
    stem = yolov5_conv(3, 32, 6, stride=2, padding=2)
    assert stem(torch.zeros(1, 3, 64, 64)).shape == (1, 32, 32, 32)


@pytest.mark.parametrize('c_in,c_out,n,shortcut', [(32, 32, 1, True),
                                                  (32, 64, 2, True),
                                                  (64, 32, 2, False),
                                                  (48, 48, 3, False)])
def test_c3_matches_reference(c_in, c_out, n, shortcut):
    ref = RefC3(c_in, c_out, n, shortcut)
    ours = yolov5_c3(c_in, c_out, n, shortcut=shortcut)
    _randomise(ref, seed=c_in + c_out + n)
    _copy_in_order(_ref_c3_in_mmdet_order(ref), ours)
    ref.eval()
    ours.eval()
    x = torch.randn(2, c_in, 9, 7)
    assert torch.allclose(ours(x), ref(x), atol=1e-5, rtol=1e-5)
    assert sum(p.numel() for p in ours.parameters()) == sum(
        p.numel() for p in ref.parameters())


def test_c3_shortcut_actually_differs():
    # Guard for the test above: with the residual flipped the outputs differ,
    # so the comparison does see the shortcut.
    ref = RefC3(32, 32, 1, shortcut=True)
    ours = yolov5_c3(32, 32, 1, shortcut=False)
    _randomise(ref, seed=3)
    _copy_in_order(_ref_c3_in_mmdet_order(ref), ours)
    ref.eval()
    ours.eval()
    x = torch.randn(1, 32, 5, 5)
    assert not torch.allclose(ours(x), ref(x), atol=1e-3)


def test_sppf_matches_reference():
    ref = RefSPPF(64, 48)
    ours = SPPF(64, 48, 5)
    _randomise(ref, seed=11)
    _copy_in_order(ref, ours)
    ref.eval()
    ours.eval()
    x = torch.randn(2, 64, 11, 13)
    out = ours(x)
    assert out.shape == (2, 48, 11, 13)
    assert torch.allclose(out, ref(x), atol=1e-5, rtol=1e-5)


def test_width_and_depth_rounding():
    # Ultralytics: ceil(c * w / 8) * 8 and max(round(n * d), 1).
    assert make_divisible(20) == 24
    assert scale_channels(64, 0.25) == 16
    assert scale_channels(1024, 0.5) == 512
    assert scale_channels(64, 1.25) == 80
    assert scale_channels(1024, 0.75) == 768
    assert [scale_depth(n, 0.33) for n in (3, 6, 9)] == [1, 2, 3]
    assert [scale_depth(n, 0.67) for n in (3, 6, 9)] == [2, 4, 6]
    assert [scale_depth(n, 1.33) for n in (3, 6, 9)] == [4, 8, 12]
    assert scale_depth(1, 0.33) == 1


def test_reset_conv_parameters_gives_pytorch_default_range():
    conv = yolov5_conv(64, 32, 3)
    # ConvModule's Kaiming-normal init exceeds the default uniform bound.
    bound = 1 / math.sqrt(64 * 9)
    torch.manual_seed(0)
    conv.conv.reset_parameters()
    nn.init.kaiming_normal_(conv.conv.weight, mode='fan_out')
    assert conv.conv.weight.abs().max() > bound
    reset_conv_parameters(conv)
    assert conv.conv.weight.abs().max() <= bound
