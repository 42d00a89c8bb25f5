"""Config preparation shared by tools/train.py and tools/test.py.

mmengine's Runner does the training, evaluation, checkpointing and DDP; the
tools only turn command-line arguments into config fields and check inputs
early, so that a missing dataset or checkpoint is reported with the fix
instead of a traceback from deep inside a data loader.
"""
from __future__ import annotations

import logging
import os
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from csdet.utils.checkpoint import find_checkpoint
from csdet.utils.config import (ConfigSettingError, innermost_dataset,
                                load_resolved)


class UserInputError(RuntimeError):
    """Bad command-line input or missing files; the message says the fix."""


def init_weights_quietly(model: torch.nn.Module) -> None:
    """``model.init_weights()`` without mmengine's INFO line per parameter
    (about 1,000 lines for YOLOv5n), which buries a tool's own output."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    # mmengine writes the init summary straight into FileHandler streams; a
    # logging.config.dictConfig elsewhere (e.g. importing Ultralytics'
    # yolov5) closes them, so leave closed ones out for the call.
    closed = [handler for handler in logger.handlers
              if isinstance(handler, logging.FileHandler)
              and handler.stream is None]
    for handler in closed:
        logger.removeHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)
        for handler in closed:
            logger.addHandler(handler)


def load_config(config_path: str, cfg_options: dict | None = None,
                work_dir: str | None = None, launcher: str = 'none') -> Config:
    """Load a config, apply overrides, resolve its top-level settings
    (:mod:`csdet.utils.config`) and pick the work dir and DDP backend.

    Raises:
        UserInputError: missing config file or an inconsistent setting.
    """
    if not osp.isfile(config_path):
        raise UserInputError(f'config file not found: {config_path}')
    try:
        cfg = load_resolved(config_path, cfg_options)
    except ConfigSettingError as error:
        raise UserInputError(f'{config_path}: {error}') from None
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs',
                                osp.splitext(osp.basename(config_path))[0])
    # NCCL needs GPUs; gloo runs DDP on CPU-only machines.
    if not torch.cuda.is_available():
        env_cfg = cfg.get('env_cfg') or {}
        env_cfg['dist_cfg'] = dict(env_cfg.get('dist_cfg') or {},
                                   backend='gloo')
        cfg.env_cfg = env_cfg
    return cfg


def resolve_checkpoint(path: str) -> str:
    """The checkpoint a .pth file, work dir or ``last_checkpoint`` file
    names (:func:`csdet.utils.checkpoint.find_checkpoint`).

    Raises:
        UserInputError: nothing found there.
    """
    checkpoint = find_checkpoint(path)
    if checkpoint is None:
        raise UserInputError(
            f'checkpoint not found: {path}. Give a .pth file, a work dir, or '
            'its last_checkpoint file (train first with tools/train.py).')
    return str(checkpoint)


def check_dataset_files(cfg: Config, splits=('train', 'val', 'test')) -> None:
    """Fail early, with the fix, when a split's annotation file is missing."""
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        dataset = innermost_dataset(loader)
        ann_file = dataset.get('ann_file')
        if not ann_file:
            continue
        full = osp.join(dataset.get('data_root') or '', ann_file)
        if not osp.isfile(full):
            raise UserInputError(
                f'{split} annotation file not found: {full}. Convert the '
                'dataset first (NEU-DET: python tools/dataset_converters/'
                'neu_det.py --src path/to/NEU-DET --out data/NEU-DET; your '
                'own: yolo2coco.py / voc2coco.py there) or point data_root '
                'at it (--cfg-options data_root=...).')


def check_load_from(cfg: Config) -> None:
    load_from = cfg.get('load_from')
    if load_from and not osp.isfile(load_from):
        raise UserInputError(
            f'load_from checkpoint not found: {load_from}. csdet never '
            'downloads weights: point load_from at a local file or set '
            'load_from=None.')


def init_cpu_distributed(cfg: Config) -> None:
    """Start a gloo process group for DDP on machines without a GPU.

    mmengine 0.10.7's ``init_dist('pytorch')`` calls ``torch.cuda.set_device``
    unconditionally, which raises on CPU-only machines. When there is no GPU
    we initialise the process group ourselves (from the torchrun/slurm
    environment variables); the Runner then sees an initialised group and
    skips its own ``init_dist``. The Runner also passes
    ``device_ids=[LOCAL_RANK]`` to DDP, which CPU modules refuse, so the DDP
    wrapper is configured with ``device_ids=None``. With GPUs nothing changes.
    """
    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    import torch.distributed as dist
    if dist.is_initialized():
        return
    if cfg.launcher == 'slurm':
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ['SLURM_LOCALID'])
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            raise UserInputError('set MASTER_ADDR for CPU slurm training')
    dist.init_process_group(backend='gloo')
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))


def close_distributed() -> None:
    """Destroy the process group before exit: a gloo group left to the
    interpreter's teardown can abort the process ("terminate called without
    an active exception") after the job itself succeeded."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def local_rank_env(local_rank: int) -> None:
    """torch.distributed launchers pass --local-rank; mmengine reads env."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))
