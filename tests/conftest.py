"""Shared pytest fixtures for csdet.

The real NEU-DET copy lives beside the repo (../shared/datasets/NEU-DET) and
is never committed; tests that need it take the ``neu_det_root`` fixture and
are skipped, with the reason shown, only when that directory is absent.
"""
import os
from pathlib import Path

import pytest
import torch

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
