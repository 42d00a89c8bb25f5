"""Time a detector's compute: training steps and inference, no data loading.

One synthetic batch (random images, three random boxes each) is made once
and reused for every timed call, so the numbers measure the model (forward,
loss, backward, optimizer step; or predict with NMS) and nothing else. Used
by tools/benchmark.py and tools/compare.py.

    timings = benchmark_model(model, batch_size=16, img_size=192,
                              num_classes=6)
    images_per_s = 16 / timings['train_step'].median
    ms_per_image = timings['infer_one'].median * 1e3
"""
from __future__ import annotations

import copy
import itertools
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmdet.registry import DATASETS
from mmdet.structures import DetDataSample

from csdet.models.utils import inference_copy

BOXES_PER_IMAGE = 3


@dataclass(frozen=True)
class Timing:
    """Seconds per call: median and interquartile range over the calls."""
    median: float
    q1: float
    q3: float


def count_parameters(model: torch.nn.Module) -> int:
    """All parameters, trainable or frozen (the model's size)."""
    return sum(parameter.numel() for parameter in model.parameters())


def synthetic_batch(batch_size: int, img_size: int, num_classes: int,
                    seed: int = 0) -> dict:
    """Random uint8 images with random boxes, in the model's input format."""
    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, img_size, img_size),
                                    generator=generator, dtype=torch.uint8))
        top_left = torch.rand(BOXES_PER_IMAGE, 2,
                              generator=generator) * img_size * 0.7
        size = 8 + torch.rand(BOXES_PER_IMAGE, 2,
                              generator=generator) * img_size * 0.3
        shape = (img_size, img_size)
        sample = DetDataSample(metainfo=dict(
            img_shape=shape, ori_shape=shape, scale_factor=(1.0, 1.0),
            pad_shape=shape, batch_input_shape=shape))
        sample.gt_instances = InstanceData(
            bboxes=torch.cat(
                [top_left, (top_left + size).clamp(max=img_size)], dim=1),
            labels=torch.randint(0, num_classes, (BOXES_PER_IMAGE, ),
                                 generator=generator))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def load_test_images(cfg, count: int) -> dict:
    """The first ``count`` images of a config's test set, through its test
    pipeline, collated as model input. For timing trained weights: their
    NMS time depends on how many boxes pass the score threshold, which
    random pixels do not represent."""
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    dataset = DATASETS.build(copy.deepcopy(cfg.test_dataloader['dataset']))
    count = min(count, len(dataset))
    return pseudo_collate([dataset[index] for index in range(count)])


def time_calls(fn: Callable[[], None], iters: int, warmup: int,
               device: str = 'cpu') -> list[float]:
    """Seconds taken by each of ``iters`` calls of ``fn`` after ``warmup``."""
    if iters < 1:
        raise ValueError(f'iters must be >= 1, got {iters}')
    for _ in range(warmup):
        fn()
    on_cuda = device.startswith('cuda')
    times = []
    for _ in range(iters):
        # CUDA kernels run asynchronously: wait for them on both ends
        if on_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if on_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def alternate(calls: dict[str, Callable[[], object]], repeats: int,
              warmup: int) -> dict[str, list[float]]:
    """Seconds per call of each named callable, the calls interleaved so
    that two implementations share the machine's state alike.

    ``warmup`` untimed rounds first; then ``repeats`` rounds, the call
    order reversed every other round. Raises ValueError for repeats < 1.
    """
    if repeats < 1:
        raise ValueError(f'repeats={repeats} must be >= 1')
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        for name in (names if repeat % 2 == 0 else names[::-1]):
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
    return times


def summarize(times: list[float]) -> Timing:
    """Median and quartiles of the times (the range for fewer than three)."""
    if len(times) < 3:  # exclusive quartiles of 2 points extrapolate past them
        return Timing(statistics.median(times), min(times), max(times))
    q1, _, q3 = statistics.quantiles(times, n=4)
    return Timing(statistics.median(times), q1, q3)


def train_step_fn(model: torch.nn.Module, batch: dict,
                  optimizer: torch.optim.Optimizer) -> Callable[[], None]:
    """One forward + backward + optimizer step on ``batch``."""

    def step() -> None:
        model.train()
        data = model.data_preprocessor(batch, training=True)
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def predict_fn(model: torch.nn.Module, batch: dict) -> Callable[[], None]:
    """Inference on ``batch`` in predict mode (post-processing included)."""

    def predict() -> None:
        model.eval()
        with torch.no_grad():
            data = model.data_preprocessor(batch, training=False)
            model(**data, mode='predict')

    return predict


def predict_one_fn(model: torch.nn.Module,
                   batch: dict) -> Callable[[], None]:
    """Inference on one image per call, the batch's images in turn."""
    predicts = itertools.cycle([
        predict_fn(model, dict(inputs=[image], data_samples=[sample]))
        for image, sample in zip(batch['inputs'], batch['data_samples'])
    ])
    return lambda: next(predicts)()


def benchmark_model(model: torch.nn.Module, batch_size: int, img_size: int,
                    num_classes: int, iters: int = 20, warmup: int = 3,
                    device: str = 'cpu', train: bool = True,
                    batch_inference: bool = True,
                    images: dict | None = None) -> dict[str, Timing]:
    """Time a built mmdet model on a synthetic batch (training) and on
    ``images`` or the synthetic batch (inference).

    Args:
        model: an mmdet detector (with its data_preprocessor), on ``device``.
        batch_size, img_size: shape of the synthetic batch (square images).
        num_classes: labels of the synthetic boxes are drawn below this.
        iters, warmup: timed and untimed calls per measurement.
        train: time training steps (SGD, lr 1e-4; they run first, as in
            tools/benchmark.py, and update the weights and BN statistics).
        batch_inference: time inference on the whole batch too.
        images: inference inputs, e.g. ``load_test_images(cfg, 16)`` for
            trained weights; by default the synthetic batch.

    Inference runs on :func:`~csdet.models.utils.inference_copy` of the
    model (Conv+BN fused where the config asks, as tools/test.py runs it).

    Returns:
        Seconds per call: ``'infer_one'`` (one image per call, the
        inference images in turn),
        ``'infer_batch'`` (whole batch, if asked) and ``'train_step'`` (if
        asked). Divide by the number of images for per-image figures.
    """
    # the synthetic batch only where something uses it
    batch = (synthetic_batch(batch_size, img_size, num_classes)
             if train or images is None else None)
    images = images or batch
    timings = {}
    if train:
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-4,
                                    momentum=0.9)
        timings['train_step'] = summarize(
            time_calls(train_step_fn(model, batch, optimizer), iters, warmup,
                       device))
    model = inference_copy(model)  # fused, as tools/test.py runs it
    timings['infer_one'] = summarize(
        time_calls(predict_one_fn(model, images), iters, warmup, device))
    if batch_inference:
        timings['infer_batch'] = summarize(
            time_calls(predict_fn(model, images), iters, warmup, device))
    return timings


def input_size(cfg) -> int:
    """Side of the test images of an mmengine Config: the scale of its test
    pipeline's Resize / LetterBox (the largest side if not square)."""
    dataset = cfg.test_dataloader['dataset']
    while 'dataset' in dataset:  # dataset wrappers
        dataset = dataset['dataset']
    for step in dataset.get('pipeline', []):
        scale = step.get('scale')
        if step['type'] in ('Resize', 'LetterBox') and scale is not None:
            return max(scale) if isinstance(scale, (list, tuple)) else scale
    raise ValueError('no Resize/LetterBox scale in the test pipeline')
