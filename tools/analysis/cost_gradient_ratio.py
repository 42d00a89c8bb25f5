"""Cost-term vs CE gradient on the class logits at init, per config.

    python tools/analysis/cost_gradient_ratio.py CONFIG [CONFIG ...]
        [--batches 4] [--batch-size N [N ...]] [--seed 0] [--target R]
        [--cfg-options ...]

For each config: seed, build the model and ``init_weights()`` as mmengine's
Runner does (plus YOLOv5 AutoAnchor when the config has the hook, which may
change the anchors before the first step), then load --batches real
batches from the config's train dataloader (same seed, so configs on the
same dataset see the same images; num_workers 0) and measure on each, in
train mode, ``||d loss_cls_cost/dz|| / ||d loss_cls_ce/dz||`` over the class
logits z (csdet.utils.cost_gradient). Prints the per-batch values and a
markdown table: eta, cost_weight, median ratio over the batches (and its
range), ratio per unit eta, and the eta that gives --target. The target
defaults to the median measured for configs/cs_yolov5_neu.py when it is one
of the configs, else 0.28 (its value at batch 16, seed 0).

--batch-size: one value for every config, or one per config (e.g.
``--batch-size 16 8 8`` runs CS-YOLOv5 at 16 instead of its 230); default
each config's own. --cfg-options applies to every config.
"""
from __future__ import annotations

import argparse
import math
import os.path as osp
import statistics
import sys
from types import SimpleNamespace
from typing import List, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, set_random_seed
from mmdet.registry import HOOKS, MODELS

import csdet  # noqa: F401  (registers csdet modules)
from csdet.utils.config import load_resolved
from csdet.utils.cost_gradient import (class_loss_settings, eta_for_ratio,
                                       measure_cost_gradient)
from csdet.utils.runner_setup import init_weights_quietly

REFERENCE_CONFIG = 'cs_yolov5_neu.py'
DEFAULT_TARGET = 0.28


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', metavar='CONFIG')
    parser.add_argument('--batches', type=int, default=4,
                        help='real batches measured per config')
    parser.add_argument('--batch-size', type=int, nargs='+', default=None,
                        help='one for all configs or one per config '
                        "(default: each config's own)")
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--target', type=float, default=None,
                        help='ratio to solve eta for (default: the '
                        f'{REFERENCE_CONFIG} median if measured, else '
                        f'{DEFAULT_TARGET})')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    if args.batch_size and len(args.batch_size) not in (1, len(args.configs)):
        parser.error('--batch-size takes one value or one per config')
    if args.batches < 1:
        parser.error('--batches must be >= 1')
    return args


def run_autoanchor(cfg: Config, model: torch.nn.Module, loader) -> None:
    """Apply the config's YOLOv5 AutoAnchor hook as before_train would (the
    only hook that changes the model before the first step)."""
    for hook_cfg in cfg.get('custom_hooks', []):
        if 'AutoAnchor' in hook_cfg['type']:
            hook = HOOKS.build(hook_cfg)
            hook.before_train(SimpleNamespace(
                model=model, iter=0, train_dataloader=loader, hooks=[]))


def measure_config(path: str, batch_size: Optional[int], batches: int,
                   seed: int, cfg_options: Optional[dict]) -> dict:
    """Per-batch gradient norms of one config (see the module docstring)."""
    cfg = load_resolved(path, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(num_workers=0, persistent_workers=False)
    if batch_size:
        loader_cfg.batch_size = batch_size
    # Runner order: seed, build the model, build loaders, init_weights.
    set_random_seed(seed)
    model = MODELS.build(cfg.model)
    loader = Runner.build_dataloader(loader_cfg, seed=seed)
    init_weights_quietly(model)
    run_autoanchor(cfg, model, loader)
    model.train()
    norms = []
    for index, data in enumerate(loader):
        if index == batches:
            break
        norms.append(measure_cost_gradient(model, data))
        print(f'  {osp.basename(path)} batch {index}: ||g_ce|| '
              f'{norms[-1].ce:.4g}  ||g_cost|| {norms[-1].cost:.4g}  '
              f'ratio {norms[-1].ratio:.4g}', flush=True)
    return dict(config=path, batch_size=loader_cfg.batch_size, norms=norms,
                **class_loss_settings(model))


def fmt(value: Optional[float], digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'
    return f'{value:.{digits}g}'


def main() -> int:
    args = parse_args()
    sizes: List[Optional[int]] = (
        args.batch_size * len(args.configs) if args.batch_size and len(
            args.batch_size) == 1 else args.batch_size or [None] *
        len(args.configs))
    rows = []
    for path, size in zip(args.configs, sizes):
        if not osp.isfile(path):
            print(f'error: config not found: {path}', file=sys.stderr)
            return 1
        rows.append(measure_config(path, size, args.batches, args.seed,
                                   args.cfg_options))
    for row in rows:
        # A batch without positives has no CE gradient (NaN ratio): skip it.
        ratios = [norm.ratio for norm in row['norms']
                  if not math.isnan(norm.ratio)] or [math.nan]
        row['ratio'] = statistics.median(ratios)
        row['range'] = (min(ratios), max(ratios))
        row['per_eta'] = (row['ratio'] / row['eta'] if row['eta'] else
                          math.nan)

    target, source = args.target, '--target'
    if target is None:
        reference = [row for row in rows
                     if osp.basename(row['config']) == REFERENCE_CONFIG]
        target, source = ((reference[0]['ratio'], REFERENCE_CONFIG)
                          if reference else (DEFAULT_TARGET, 'default'))
    print(f'\nseed {args.seed}, {args.batches} batches per config, target '
          f'ratio {target:.3g} ({source})\n')
    print(f'| config | batch | eta | cost_weight | ratio (median) | range | '
          f'ratio / eta | eta for ratio {target:.2g} |')
    print('|---|---|---|---|---|---|---|---|')
    for row in rows:
        low, high = row['range']
        print(f"| {osp.basename(row['config'])} | {row['batch_size']} | "
              f"{fmt(row['eta'])} | {fmt(row['cost_weight'])} | "
              f"{fmt(row['ratio'])} | {fmt(low)}-{fmt(high)} | "
              f"{fmt(row['per_eta'])} | "
              f"{fmt(eta_for_ratio(row['ratio'], row['eta'], target))} |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
