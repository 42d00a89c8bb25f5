"""YOLOv5.fuse_for_inference: Conv+BN folding gives the unfused model's
detections, leaves the head's test_cfg alone and makes the model
inference-only."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.registry import init_default_scope

import csdet  # noqa: F401  (registers the modules)
from yolov5n_config import yolov5n_model_cfg

SIZE = 128


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def build_model(repo_root, **test_cfg):
    torch.manual_seed(0)
    model = MODELS.build(yolov5n_model_cfg(**test_cfg))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # trained-looking BN statistics and affine terms
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                count = module.num_features
                module.running_mean.normal_(0, 0.5, generator=generator)
                module.running_var.uniform_(0.3, 3, generator=generator)
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0, 0.2, generator=generator)
                assert module.running_mean.numel() == count
        for conv in model.bbox_head.convs_pred:  # varied, busy outputs
            conv.weight.mul_(2)
            conv.bias.view(3, -1)[:, 4] += 2
    return model.eval()


def predict(model, image):
    sample = DetDataSample(metainfo=dict(
        img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE),
        scale_factor=(1.0, 1.0), batch_input_shape=(SIZE, SIZE)))
    with torch.no_grad():
        return model.predict(image, [sample], rescale=False)[0].pred_instances


def test_fused_model_gives_the_same_maps_and_detections(repo_root):
    # thousands of detections at conf 0.001 would put some within float
    # rounding of each other, where NMS order may flip: use conf 0.01
    model = build_model(repo_root, score_thr=0.01, max_per_img=1000)
    fused = copy.deepcopy(model).fuse_for_inference()
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for m in fused.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    image = torch.rand(1, 3, SIZE, SIZE,
                       generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        maps = model.bbox_head(model.extract_feat(image))[0]
        fused_maps = fused.bbox_head(fused.extract_feat(image))[0]
    for ours, theirs in zip(maps, fused_maps):
        torch.testing.assert_close(theirs, ours, rtol=1e-4, atol=1e-4)

    expected, got = predict(model, image), predict(fused, image)
    assert 30 <= len(expected) < 1000  # not cut at max_per_img
    assert len(got) == len(expected)
    assert_same_detections(got, expected)


def assert_same_detections(got, expected, box_tol=1e-3, score_tol=1e-5):
    """One-to-one: each detection has an expected one of the same label
    within the tolerances (orders may differ among near-equal scores)."""
    dist = (got.bboxes[:, None] - expected.bboxes[None]).abs().amax(-1)
    dist[got.labels[:, None] != expected.labels[None]] = float('inf')
    nearest = dist.argmin(1)
    assert dist.min(1).values.max().item() <= box_tol
    assert len(set(nearest.tolist())) == len(got)  # one-to-one
    torch.testing.assert_close(got.scores, expected.scores[nearest],
                               rtol=0, atol=score_tol)
    torch.testing.assert_close(got.cls_probs, expected.cls_probs[nearest],
                               rtol=0, atol=score_tol)


def test_fuse_switch_stays_out_of_the_head_test_cfg(repo_root):
    on = build_model(repo_root)
    off = build_model(repo_root, fuse_conv_bn=False)
    assert on.fuse_conv_bn is True and off.fuse_conv_bn is False
    assert 'fuse_conv_bn' not in on.bbox_head.test_cfg
    assert on.bbox_head.test_cfg['max_per_img'] == 300


def test_a_fused_model_refuses_to_train(repo_root):
    model = build_model(repo_root).fuse_for_inference()
    assert model.is_fused and not model.training
    model.eval()  # still allowed
    with pytest.raises(RuntimeError, match='fuse_for_inference'):
        model.train()
    # fusing twice is a no-op
    weights = model.backbone.stem.conv.weight.clone()
    model.fuse_for_inference()
    assert torch.equal(model.backbone.stem.conv.weight, weights)
