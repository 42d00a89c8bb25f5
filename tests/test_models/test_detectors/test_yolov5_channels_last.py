"""YOLOv5(channels_last=True): the same losses and gradients as the default
memory format, up to float rounding; weights and inference untouched."""
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

import csdet  # noqa: F401  (registers the modules)
from yolov5n_config import (losses_and_grads, random_samples,
                            yolov5n_model_cfg)

SIZE = 128


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def pair(repo_root, **test_cfg):
    model_cfg = yolov5n_model_cfg(**test_cfg)
    model_cfg.channels_last = False
    torch.manual_seed(0)
    plain = MODELS.build(model_cfg)
    model_cfg.channels_last = True
    fast = MODELS.build(model_cfg)
    fast.load_state_dict(plain.state_dict())
    return plain, fast


def samples(count, generator):
    return random_samples(count, SIZE, generator)


def test_same_losses_and_gradients(repo_root):
    plain, fast = pair(repo_root)
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(4, 3, SIZE, SIZE, generator=generator)
    data = samples(4, generator)
    losses, grads = losses_and_grads((plain, fast), images, data)
    for key in losses[0]:
        torch.testing.assert_close(losses[1][key], losses[0][key],
                                   rtol=1e-5, atol=1e-6)
    for name, expected in grads[0].items():
        scale = expected.abs().max().item() + 1e-12
        assert (grads[1][name] - expected).abs().max().item() <= 1e-4 * scale
    # weights (and so checkpoints) keep the default layout
    assert all(tensor.is_contiguous()
               for tensor in fast.state_dict().values())


def test_inference_is_unchanged(repo_root):
    plain, fast = pair(repo_root)
    image = torch.rand(2, 3, SIZE, SIZE,
                       generator=torch.Generator().manual_seed(2))
    meta = samples(2, torch.Generator().manual_seed(3))
    results = []
    for model in (plain, fast):
        model.eval()
        with torch.no_grad():
            results.append(model.predict(image, meta)[0].pred_instances)
    assert len(results[0]) > 0
    for key in ('bboxes', 'scores', 'labels', 'cls_probs'):
        assert torch.equal(results[1][key], results[0][key])
