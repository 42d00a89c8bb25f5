"""A small checkpoint of a csdet config for the inference tests."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint
from mmdet.registry import MODELS

from csdet.testing.synthetic import make_synthetic_coco
from csdet.utils.config import load_resolved
from csdet.utils.runner_setup import init_weights_quietly


@pytest.fixture(scope='session')
def synthetic_set(tmp_path_factory):
    """Eight 96 x 96 synthetic NEU-like images in COCO layout."""
    return make_synthetic_coco(tmp_path_factory.mktemp('synth'),
                               num_images=8, image_size=96, seed=3)


@pytest.fixture(scope='session')
def quick_checkpoint(synthetic_set, tmp_path_factory, repo_root):
    """configs/cs_yolov5_neu_quick.py at 96 px with seeded random weights,
    saved the way mmengine's Runner saves (meta.dataset_meta)."""
    config = str(repo_root / 'configs' / 'cs_yolov5_neu_quick.py')
    options = dict(img_size=96, data_root=str(synthetic_set['root']) + '/')
    cfg = load_resolved(config, options)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    init_weights_quietly(model)
    path = tmp_path_factory.mktemp('ckpt') / 'epoch_1.pth'
    save_checkpoint(dict(state_dict=model.state_dict(), meta=dict(
        dataset_meta=dict(classes=tuple(cfg.classes)))), str(path))
    return dict(config=config, checkpoint=str(path), options=options,
                cfg=cfg)
