"""FuseConvBNHook: the test epoch runs a fused copy, the trained model is
never fused and comes back afterwards."""
import logging
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

from csdet.engine.hooks import FuseConvBNHook
from yolov5n_config import yolov5n_model_cfg


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def yolov5n(repo_root, **test_cfg):
    return MODELS.build(yolov5n_model_cfg(**test_cfg))


def has_bn(model):
    return any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def runner_with(model):
    return SimpleNamespace(model=model, logger=logging.getLogger('test'))


def test_test_epoch_runs_a_fused_copy_and_restores_the_model(repo_root):
    model = yolov5n(repo_root).train()
    runner, hook = runner_with(model), FuseConvBNHook()
    hook.before_test_epoch(runner)
    assert runner.model is not model
    assert runner.model.is_fused and not has_bn(runner.model)
    assert has_bn(model) and not model.is_fused and model.training
    hook.after_test_epoch(runner, {})
    assert runner.model is model
    model.train()  # still trainable


@pytest.mark.parametrize('make', [
    lambda root: yolov5n(root, fuse_conv_bn=False),
    lambda root: torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1),
                                     torch.nn.BatchNorm2d(4)),
])
def test_models_that_do_not_ask_are_left_alone(repo_root, make):
    model = make(repo_root)
    runner, hook = runner_with(model), FuseConvBNHook()
    hook.before_test_epoch(runner)
    assert runner.model is model and has_bn(model)
    hook.after_test_epoch(runner, {})
    assert runner.model is model
