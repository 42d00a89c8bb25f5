"""Training throughput and inference latency of a config's model.

    python tools/benchmark.py configs/cs_yolov5_neu.py [--batch-size 16]
        [--img-size N] [--iters 20] [--warmup 3] [--threads N]

Measures model compute only (the data pipeline is timed separately by
mmengine's data_time in training logs): one synthetic batch of the given
size (random pixels, one random box per image) is reused for every timed
iteration, so no dataset is needed. --img-size defaults to the config's
test size (its test pipeline's Resize / LetterBox scale: 192 for YOLOv5,
300 for SSD300, 400 for the Faster R-CNN config). Weights are the config's
initial ones:
inference time then includes NMS over an untrained model's many boxes (an
upper bound; tools/compare.py times the trained checkpoint).
Prints the median and the interquartile range over --iters iterations of

- a training step (forward + backward + optimizer step), as images/s;
- inference on one image (predict mode, NMS included), as ms/image;
- inference on a batch, as ms/image.
"""
from __future__ import annotations

import argparse
from dataclasses import astuple

import torch
from mmengine.config import Config, DictAction
from mmdet.registry import MODELS

import csdet  # noqa: F401  (registers csdet modules)
from csdet.utils.config import load_resolved
from csdet.utils.benchmark import (benchmark_model, count_parameters,
                                   input_size)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--img-size', type=int, default=None,
                        help="square input side (default: the config's test "
                        'size)')
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch default)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_resolved(args.config, args.cfg_options)
    img_size = args.img_size or input_size(cfg)
    model = MODELS.build(cfg.model).to(args.device)
    model.init_weights()
    num_classes = len(cfg.get('classes', ())) or 6
    params = count_parameters(model)
    timings = benchmark_model(model, args.batch_size, img_size,
                              num_classes, iters=args.iters,
                              warmup=args.warmup, device=args.device)
    train_med, train_q1, train_q3 = astuple(timings['train_step'])
    one_med, one_q1, one_q3 = astuple(timings['infer_one'])
    batch_med, batch_q1, batch_q3 = astuple(timings['infer_batch'])
    bs = args.batch_size
    print(f'config: {args.config}')
    print(f'device: {args.device}, threads: {torch.get_num_threads()}, '
          f'params: {params:,}, input: {img_size} px, batch: {bs}, '
          f'iters: {args.iters} (median [IQR])')
    print(f'train step      : {bs / train_med:8.1f} images/s  '
          f'[{bs / train_q3:.1f}, {bs / train_q1:.1f}]')
    print(f'inference bs=1  : {one_med * 1e3:8.2f} ms/image  '
          f'[{one_q1 * 1e3:.2f}, {one_q3 * 1e3:.2f}]')
    print(f'inference bs={bs:<3d}: {batch_med / bs * 1e3:8.2f} ms/image  '
          f'[{batch_q1 / bs * 1e3:.2f}, {batch_q3 / bs * 1e3:.2f}]')


if __name__ == '__main__':
    main()
