"""Shared pytest fixtures for csdet.

The real NEU-DET copy lives beside the repo (../shared/datasets/NEU-DET) and
is never committed; tests that need it take the ``neu_det_root`` fixture and
are skipped, with the reason shown, only when that directory is absent.
"""
import os
from pathlib import Path

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint
from mmdet.registry import MODELS

from csdet.testing.synthetic import make_synthetic_coco
from csdet.utils.config import load_resolved
from csdet.utils.runner_setup import init_weights_quietly

REPO_ROOT = Path(__file__).resolve().parents[1]
NEU_DET_ROOT = Path(os.environ.get(
    'CSDET_NEU_DET', REPO_ROOT.parent / 'shared' / 'datasets' / 'NEU-DET'))

# Two cores: keep each test process from oversubscribing them.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope='session')
def neu_det_root() -> Path:
    if not (NEU_DET_ROOT / 'ANNOTATIONS').is_dir():
        pytest.skip(f'NEU-DET not found at {NEU_DET_ROOT} '
                    '(set CSDET_NEU_DET to its folder)')
    return NEU_DET_ROOT


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
