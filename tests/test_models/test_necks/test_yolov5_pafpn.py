import pytest
import torch

from csdet.models.necks import YOLOv5PAFPN


def test_output_shapes_yolov5s():
    neck = YOLOv5PAFPN(deepen_factor=0.33, widen_factor=0.5)
    neck.eval()
    feats = (torch.rand(2, 128, 8, 8), torch.rand(2, 256, 4, 4),
             torch.rand(2, 512, 2, 2))
    with torch.no_grad():
        outs = neck(feats)
    assert [tuple(o.shape) for o in outs] == [(2, 128, 8, 8), (2, 256, 4, 4),
                                              (2, 512, 2, 2)]


def test_layer_channels_follow_the_yaml():
    # yolov5l (w = 1): head layers 10, 13, 14, 17, 18, 20, 21, 23.
    neck = YOLOv5PAFPN(deepen_factor=1.0, widen_factor=1.0)
    assert [(c.conv.in_channels, c.conv.out_channels)
            for c in neck.reduce_layers] == [(1024, 512), (512, 256)]
    assert [(b.main_conv.conv.in_channels, b.final_conv.conv.out_channels)
            for b in neck.top_down_blocks] == [(1024, 512), (512, 256)]
    assert [(c.conv.in_channels, c.conv.out_channels, c.conv.stride)
            for c in neck.downsample_layers] == [(256, 256, (2, 2)),
                                                 (512, 512, (2, 2))]
    assert [(b.main_conv.conv.in_channels, b.final_conv.conv.out_channels)
            for b in neck.bottom_up_blocks] == [(512, 512), (1024, 1024)]
    # neck C3s: 3 bottlenecks at d = 1, no residuals.
    for block in list(neck.top_down_blocks) + list(neck.bottom_up_blocks):
        assert len(block.blocks) == 3
        assert not any(b.add_identity for b in block.blocks)


def test_forward_wiring_follows_the_yaml():
    # The yaml graph written out with the neck's own sub-layers: concat
    # order (resampled tensor first) and the reuse of layers 10 / 14 (the
    # reduce convs) as bottom-up laterals.
    neck = YOLOv5PAFPN(deepen_factor=0.33, widen_factor=0.25)
    neck.eval()
    p3, p4, p5 = (torch.rand(1, 64, 8, 8), torch.rand(1, 128, 4, 4),
                  torch.rand(1, 256, 2, 2))
    up = torch.nn.Upsample(scale_factor=2, mode='nearest')
    with torch.no_grad():
        r5 = neck.reduce_layers[0](p5)                                # 10
        t4 = neck.top_down_blocks[0](torch.cat((up(r5), p4), 1))      # 13
        r4 = neck.reduce_layers[1](t4)                                # 14
        n3 = neck.top_down_blocks[1](torch.cat((up(r4), p3), 1))      # 17
        n4 = neck.bottom_up_blocks[0](
            torch.cat((neck.downsample_layers[0](n3), r4), 1))        # 20
        n5 = neck.bottom_up_blocks[1](
            torch.cat((neck.downsample_layers[1](n4), r5), 1))        # 23
        outs = neck((p3, p4, p5))
    for expected, got in zip((n3, n4, n5), outs):
        assert torch.equal(expected, got)


def test_wrong_number_of_inputs():
    neck = YOLOv5PAFPN(widen_factor=0.25)
    with pytest.raises(ValueError, match='3 feature maps'):
        neck((torch.rand(1, 64, 8, 8), ))
