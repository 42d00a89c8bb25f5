"""Evaluate a trained detector: python tools/test.py CONFIG CHECKPOINT.

CHECKPOINT is a .pth file, a work dir, or a work dir's last_checkpoint file.
Prints the metrics the config's test_evaluator computes (COCO mAP, the
paper's cost metric, F1, ...) and writes them to <work-dir>/test_metrics.json.

    python tools/test.py configs/cs_yolov5_neu.py work_dirs/cs_yolov5_neu
    python tools/test.py CONFIG CKPT --out preds.pkl --show-dir vis
"""
import argparse
import json
import os.path as osp
import sys

from mmengine.config import DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import csdet  # noqa: F401  (registers modules and checkpoint safe globals)
from csdet.datasets.check import check_config_datasets, enable_skip_bad
from csdet.utils.runner_setup import (UserInputError, check_dataset_files,
                                      init_cpu_distributed, load_config,
                                      local_rank_env, resolve_checkpoint)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a detector')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='.pth file, work dir, or '
                        'last_checkpoint file')
    parser.add_argument('--work-dir', help='where logs and metrics go')
    parser.add_argument('--out', help='dump raw predictions to this .pkl')
    parser.add_argument('--show-dir', help='draw predictions into this '
                        'folder (relative to the work dir\'s timestamp dir)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--skip-bad', action='store_true',
                        help='leave out the images the dataset check finds '
                        'bad (undecodable, bad boxes) instead of stopping')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


def add_outputs(cfg, args) -> None:
    """--out and --show-dir, the mmdet way (DumpDetResults, vis hook)."""
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise UserInputError('--out must end with .pkl or .pickle')
        evaluator = cfg.test_evaluator
        if isinstance(evaluator, dict):
            evaluator = [evaluator]
        cfg.test_evaluator = list(evaluator) + [
            dict(type='DumpDetResults', out_file_path=args.out)]
    if args.show_dir:
        hook = cfg.default_hooks.visualization
        hook.draw, hook.test_out_dir = True, args.show_dir


def format_metrics(metrics: dict) -> str:
    width = max(len(k) for k in metrics) if metrics else 0
    lines = []
    for key, value in metrics.items():
        shown = f'{value:.4f}' if isinstance(value, float) else str(value)
        lines.append(f'{key:<{width}}  {shown}')
    return '\n'.join(lines)


def main() -> int:
    args = parse_args()
    local_rank_env(args.local_rank)
    try:
        cfg = load_config(args.config, args.cfg_options, args.work_dir,
                          args.launcher)
        cfg.load_from = resolve_checkpoint(args.checkpoint)
        check_dataset_files(cfg, splits=('test', ))
        if args.skip_bad:
            enable_skip_bad(cfg, splits=('test', ))
        check_config_datasets(cfg, splits=('test', ), skip_bad=args.skip_bad)
        add_outputs(cfg, args)
    except UserInputError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    init_cpu_distributed(cfg)
    runner = (RUNNERS.build(cfg) if 'runner_type' in cfg
              else Runner.from_cfg(cfg))
    metrics = runner.test()
    serializable = {k: (v if isinstance(v, (int, float, str)) else str(v))
                    for k, v in metrics.items()}
    with open(osp.join(cfg.work_dir, 'test_metrics.json'), 'w') as f:
        json.dump(serializable, f, indent=2)
    print('\nTest metrics (' + cfg.load_from + '):')
    print(format_metrics(serializable))
    return 0


if __name__ == '__main__':
    sys.exit(main())
