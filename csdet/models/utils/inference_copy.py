"""The model that inference runs: a Conv+BN-fused copy when asked for."""
from __future__ import annotations

import copy

import torch


def inference_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A deep copy fused by ``model.fuse_for_inference()`` when the model
    asks for fusing (YOLOv5's ``test_cfg.fuse_conv_bn``, default True);
    otherwise ``model`` itself. The given model is never changed, so it can
    go on training."""
    if not getattr(model, 'fuse_conv_bn', False):
        return model
    return copy.deepcopy(model).fuse_for_inference()
