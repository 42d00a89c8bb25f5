"""Train a csdet detector: python tools/train.py CONFIG [options].

Examples:
    python tools/train.py configs/cs_yolov5_neu.py
    python tools/train.py configs/cs_yolov5_neu.py --resume      # latest ckpt
    python tools/train.py configs/yolov5_neu.py \
        --cfg-options train_dataloader.batch_size=16
    bash tools/dist_train.sh configs/cs_yolov5_neu.py 2          # DDP
"""
import argparse
import sys

from mmengine.config import DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import csdet  # noqa: F401  (registers modules and checkpoint safe globals)
from csdet.datasets.check import check_config_datasets, enable_skip_bad
from csdet.engine.optimizers import amp_optim_wrapper_type
from csdet.utils.runner_setup import (UserInputError, check_dataset_files,
                                      check_load_from, close_distributed,
                                      init_cpu_distributed, load_config,
                                      local_rank_env)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (CUDA)')
    parser.add_argument(
        '--resume', nargs='?', const='auto', default=None,
        help='resume from a checkpoint; without a path, from the latest one '
        'in the work dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config fields, e.g. '
                        'train_dataloader.batch_size=16')
    parser.add_argument('--skip-bad', action='store_true',
                        help='leave out the images the dataset check finds '
                        'bad (undecodable, bad boxes) instead of stopping')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm'],
                        help='job launcher for distributed training')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    local_rank_env(args.local_rank)
    try:
        cfg = load_config(args.config, args.cfg_options, args.work_dir,
                          args.launcher)
        if args.amp:
            cfg.optim_wrapper.type = amp_optim_wrapper_type(
                cfg.optim_wrapper.get('type'))
            cfg.optim_wrapper.loss_scale = 'dynamic'
        if args.resume == 'auto':
            cfg.resume, cfg.load_from = True, None
        elif args.resume is not None:
            cfg.resume, cfg.load_from = True, args.resume
        check_dataset_files(cfg)
        if args.skip_bad:
            enable_skip_bad(cfg, splits=('train', 'val'))
        check_config_datasets(cfg, splits=('train', 'val'),
                              skip_bad=args.skip_bad)
        check_load_from(cfg)
    except UserInputError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    init_cpu_distributed(cfg)
    runner = (RUNNERS.build(cfg) if 'runner_type' in cfg
              else Runner.from_cfg(cfg))
    runner.train()
    close_distributed()
    return 0


if __name__ == '__main__':
    sys.exit(main())
