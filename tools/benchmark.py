"""Training throughput and inference latency of a config's model.

    python tools/benchmark.py configs/cs_yolov5_neu.py [--batch-size 16]
        [--img-size 192] [--iters 20] [--warmup 3] [--threads N]

Measures model compute only (the data pipeline is timed separately by
mmengine's data_time in training logs): one batch is loaded from the
config's train dataloader when its data exists, otherwise a synthetic batch
of the same shape is made, and then reused for every timed iteration.
Prints the median and the interquartile range over --iters iterations of

- a training step (forward + backward + optimizer step), as images/s;
- inference on one image (predict mode, NMS included), as ms/image;
- inference on a batch, as ms/image.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.structures import InstanceData
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample

import csdet  # noqa: F401  (registers csdet modules)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--img-size', type=int, default=192)
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch.set_num_threads (default: torch default)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def synthetic_batch(batch_size: int, img_size: int, num_classes: int,
                    seed: int = 0) -> dict:
    """Random images with 3 random boxes each, in the model's input format."""
    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, img_size, img_size),
                                    generator=generator, dtype=torch.uint8))
        xy = torch.rand(3, 2, generator=generator) * img_size * 0.7
        wh = 8 + torch.rand(3, 2, generator=generator) * img_size * 0.3
        sample = DetDataSample(metainfo=dict(
            img_shape=(img_size, img_size), ori_shape=(img_size, img_size),
            scale_factor=(1.0, 1.0), pad_shape=(img_size, img_size),
            batch_input_shape=(img_size, img_size)))
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([xy, (xy + wh).clamp(max=img_size)], dim=1),
            labels=torch.randint(0, num_classes, (3, ), generator=generator))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def timed(fn, iters: int, warmup: int, device: str) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def summary(times: list[float]) -> tuple[float, float, float]:
    quartiles = statistics.quantiles(times, n=4)
    return statistics.median(times), quartiles[0], quartiles[2]


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = MODELS.build(cfg.model).to(args.device)
    model.init_weights()
    num_classes = len(cfg.get('classes', ())) or 6
    batch = synthetic_batch(args.batch_size, args.img_size, num_classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    params = sum(p.numel() for p in model.parameters())

    def train_step():
        model.train()
        data = model.data_preprocessor(batch, training=True)
        losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    single = dict(inputs=batch['inputs'][:1],
                  data_samples=batch['data_samples'][:1])

    def infer(data_batch):
        def run():
            model.eval()
            with torch.no_grad():
                data = model.data_preprocessor(data_batch, training=False)
                model(**data, mode='predict')
        return run

    train_med, train_q1, train_q3 = summary(
        timed(train_step, args.iters, args.warmup, args.device))
    one_med, one_q1, one_q3 = summary(
        timed(infer(single), args.iters, args.warmup, args.device))
    batch_med, batch_q1, batch_q3 = summary(
        timed(infer(batch), args.iters, args.warmup, args.device))
    bs = args.batch_size
    print(f'config: {args.config}')
    print(f'device: {args.device}, threads: {torch.get_num_threads()}, '
          f'params: {params:,}, input: {args.img_size} px, batch: {bs}, '
          f'iters: {args.iters} (median [IQR])')
    print(f'train step      : {bs / train_med:8.1f} images/s  '
          f'[{bs / train_q3:.1f}, {bs / train_q1:.1f}]')
    print(f'inference bs=1  : {one_med * 1e3:8.2f} ms/image  '
          f'[{one_q1 * 1e3:.2f}, {one_q3 * 1e3:.2f}]')
    print(f'inference bs={bs:<3d}: {batch_med / bs * 1e3:8.2f} ms/image  '
          f'[{batch_q1 / bs * 1e3:.2f}, {batch_q3 / bs * 1e3:.2f}]')


if __name__ == '__main__':
    main()
