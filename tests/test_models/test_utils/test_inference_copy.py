"""inference_copy: a fused deep copy for models that ask, the model itself
otherwise; the given model is left trainable."""
import torch
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

import csdet  # noqa: F401  (registers the modules)
from csdet.models.utils import inference_copy
from csdet.utils.benchmark import benchmark_model
from yolov5n_config import yolov5n_model_cfg


def build(**test_cfg):
    init_default_scope('mmdet')
    torch.manual_seed(0)
    return MODELS.build(yolov5n_model_cfg(**test_cfg))


def test_a_fusing_model_gets_a_fused_copy():
    model = build()
    fused = inference_copy(model)
    assert fused is not model and fused.is_fused and not model.is_fused
    assert not fused.training
    model.train()  # the original can go on training


def test_a_model_that_does_not_ask_is_returned_as_is():
    model = build(fuse_conv_bn=False)
    assert inference_copy(model) is model


def test_benchmark_times_the_fused_copy_and_leaves_the_model(monkeypatch):
    import csdet.utils.benchmark as benchmark
    model = build()
    seen = []
    real = benchmark.predict_fn
    monkeypatch.setattr(benchmark, 'predict_fn', lambda m, batch: (
        seen.append(m), real(m, batch))[1])
    benchmark_model(model, batch_size=2, img_size=64, num_classes=6,
                    iters=1, warmup=0, train=False)
    assert seen and all(m.is_fused for m in seen)
    assert not model.is_fused
