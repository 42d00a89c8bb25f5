"""YOLOv5(compile_features=True): training's backbone + neck through
torch.compile give the eager losses and gradients up to float rounding;
state dict, deep copies (the EMA) and eval mode stay eager-model plain."""
import copy
import shutil

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

import csdet  # noqa: F401  (registers the modules)
from csdet.models.detectors import yolov5 as yolov5_module
from yolov5n_config import (losses_and_grads, random_samples,
                            yolov5n_model_cfg)

SIZE = 64

pytestmark = pytest.mark.skipif(
    shutil.which('g++') is None and shutil.which('c++') is None,
    reason='torch.compile (inductor, CPU) needs a C++ compiler')


def batch(count, generator):
    images = torch.rand(count, 3, SIZE, SIZE, generator=generator)
    return images, random_samples(count, SIZE, generator, boxes=2)


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
    losses, grads = losses_and_grads((eager, compiled), images, samples)
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
