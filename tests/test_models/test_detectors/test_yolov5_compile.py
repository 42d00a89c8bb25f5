"""YOLOv5(compile_features=True): training's backbone + neck through
torch.compile give the eager losses and gradients up to float rounding;
state dict, deep copies (the EMA) and eval mode stay eager-model plain."""
import copy
import shutil

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import csdet  # noqa: F401  (registers the modules)
from csdet.models.detectors import yolov5 as yolov5_module
from yolov5n_config import yolov5n_model_cfg

SIZE = 64

pytestmark = pytest.mark.skipif(
    shutil.which('g++') is None and shutil.which('c++') is None,
    reason='torch.compile (inductor, CPU) needs a C++ compiler')


def batch(count, generator):
    images = torch.rand(count, 3, SIZE, SIZE, generator=generator)
    samples = []
    for _ in range(count):
        xy = torch.rand(2, 2, generator=generator) * 40
        wh = 6 + torch.rand(2, 2, generator=generator) * 20
        sample = DetDataSample(metainfo=dict(
            img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE),
            scale_factor=(1.0, 1.0), batch_input_shape=(SIZE, SIZE)))
        sample.gt_instances = InstanceData(
            bboxes=torch.cat((xy, xy + wh), 1),
            labels=torch.randint(0, 6, (2, ), generator=generator))
        samples.append(sample)
    return images, samples


def test_compiled_training_matches_eager_and_stays_out_of_copies():
    init_default_scope('mmdet')
    model_cfg = yolov5n_model_cfg()
    torch.manual_seed(0)
    eager = MODELS.build(model_cfg)
    model_cfg.compile_features = True
    compiled = MODELS.build(model_cfg)
    compiled.load_state_dict(eager.state_dict())
    assert set(compiled.state_dict()) == set(eager.state_dict())
    images, samples = batch(2, torch.Generator().manual_seed(1))
    losses, grads = [], []
    for model in (eager, compiled):
        model.train()
        loss = model.loss(images, samples)
        sum(loss.values()).backward()
        losses.append(loss)
        grads.append({name: p.grad for name, p in model.named_parameters()})
    assert compiled in yolov5_module._COMPILED_FEATURES  # it did compile
    assert eager not in yolov5_module._COMPILED_FEATURES
    for key in losses[0]:
        torch.testing.assert_close(losses[1][key], losses[0][key],
                                   rtol=1e-5, atol=1e-6)
    # inductor fuses BN's reductions (other summation order): near-zero
    # gradients (BN-cancelled, ~1e-4) differ by ~1e-8
    for name, expected in grads[0].items():
        scale = expected.abs().max().item()
        assert (grads[1][name] - expected).abs().max().item() <= (
            1e-3 * scale + 1e-7), name
    # the EMA's deep copy holds no compiled function and runs eagerly
    ema = copy.deepcopy(compiled)
    assert ema not in yolov5_module._COMPILED_FEATURES
    assert set(ema.state_dict()) == set(eager.state_dict())
    ema.eval()
    compiled.eval()
    # (the training calls left BN statistics equal only up to rounding)
    compiled.load_state_dict(eager.state_dict())
    with torch.no_grad():
        ours = compiled.extract_feat(images)
        theirs = eager.eval().extract_feat(images)
    assert ema not in yolov5_module._COMPILED_FEATURES
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)  # eval mode: the eager path, bit for bit
