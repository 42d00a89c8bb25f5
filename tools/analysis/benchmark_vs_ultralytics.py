"""csdet vs the Ultralytics YOLOv5 v7.0 reference, side by side on this CPU.

    python tools/analysis/benchmark_vs_ultralytics.py \
        [--config configs/yolov5_neu_quick.py] [--threads 1] [--repeats 7] \
        [--epochs 3 --train-runs 5 [--epoch-workers 2]] [--compile] \
        [--data-batches N [--cache]] [--iterations N] \
        [--cs-config configs/cs_yolov5_neu_quick.py] [--cfg-options ...]

Run from the repository root. Both tools run in this one process with the
same number of intra-op threads; each measured call of one tool is followed
by the same call of the other (the order flips every repeat), after untimed
warm-up rounds, and the median of the repeats is printed. Other load on the
machine slows both alike, so the ratios hold where absolute times do not.
``--epochs`` is the exception: whole training runs in their own processes.

Measured:

* training step (model only): forward + loss + backward + zero_grad on the
  same weights (the reference's ``yolov5n.yaml`` with nc = the config's
  class count, converted with :func:`csdet.models.utils.convert_state_dict`),
  the same random batch at ``--img-size`` and the same targets. Reference
  loss: ``ComputeLoss`` with hyp.scratch-low values scaled as its train.py
  does; csdet loss: the config's model (``load_resolved``).
* inference at batch 1 and ``--batch-size``: forward + decoding + NMS at the
  val settings (conf 0.001, IoU 0.6, multi-label, 300 per image); both with
  Conv+BN fused (csdet's ``fuse_for_inference`` as tools/test.py runs it,
  the reference's ``fuse()`` as its val.py / detect.py), and both unfused
  (as in-training validation).
* ``--epochs N`` (>= 2): training epochs through each tool's own loop,
  data and workers included: csdet's tools/train.py Runner (hooks, EMA,
  optimizer wrapper, loader) and the reference's ``train()`` (yolov5n,
  hyp.scratch-low, cosine lr), same train split, batch, image size and
  ``--epoch-workers``, AutoAnchor off in both, no validation. Each run is a
  fresh spawned process (its output goes to ``--log``); ``--train-runs``
  runs per tool alternate; every epoch but a run's first is timed (worker
  start-up, compilation). Seconds per epoch: median and fastest of the
  timed epochs.
* ``--compile``: the model-only training step also with
  ``model.compile_features=True`` (compiled before timing), and with
  ``--epochs`` a third tool in the rotation: csdet with that switch.
* ``--data-batches N`` (> 0): N batches of each tool's training dataloader
  on the config's train split (csdet's ``train_dataloader``; the
  reference's ``create_dataloader`` with the same hyp, Mosaic on, on YOLO
  labels written to a temporary folder from the COCO json), each turned
  into the model's input tensor (csdet's data preprocessor; the
  reference's ``float() / 255``): seconds per batch. ``--workers 0``
  (default) loads in this process, so that neither loader prefetches while
  the other is timed. ``--cache``: csdet's ``cache_images`` and the
  reference's ``cache='ram'``.
* ``--iterations N`` (> 0): N training iterations with data per repeat
  (next batch, model input, forward + loss + backward + zero_grad; no
  optimizer step or EMA): seconds per iteration.
* ``--cs-config``: the cost-sensitive loss's overhead: that config's
  model-only training step, and its head loss + backward alone, against
  ``--config``'s (same weights and batch), with a copy of the plain model
  as the noise floor; ratio = median of the per-repeat ratios.

Weights: random, with the head's output biases spread so that at conf
0.001 about 5,000 of the 13,608 (prior, class) pairs of a 192 px image are
NMS candidates and 300 detections are kept (a busy trained model), not the
near-empty candidate set of a freshly initialised head. The reference's NMS
gives up after 0.5 + 0.05 * batch seconds; when that happened the script
says so (its time is then too short).
"""
import argparse
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import torch
from mmengine.config import DictAction

from csdet.utils.benchmark import alternate

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REFERENCE = REPO_ROOT / '.venv' / 'reference'

#: reference val.py NMS settings: conf, IoU, multi-label, max detections
VAL_NMS = (0.001, 0.6, True, 300)
#: hyp.scratch-low.yaml loss settings (train.py scales box/cls/obj)
SCRATCH_LOW = dict(box=0.05, cls=0.5, cls_pw=1.0, obj=1.0, obj_pw=1.0,
                   iou_t=0.2, anchor_t=4.0, fl_gamma=0.0,
                   label_smoothing=0.0)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='csdet vs Ultralytics YOLOv5 v7.0, side by side')
    parser.add_argument('--config', default='configs/yolov5_neu_quick.py')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override fields of --config and --cs-config, '
                        'e.g. data_root=data/MyParts/ (both tools then '
                        'read that train split)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch intra-op threads, both tools')
    parser.add_argument('--repeats', type=int, default=7,
                        help='timed calls per tool and measurement')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--img-size', type=int, default=192)
    parser.add_argument('--boxes-per-image', type=int, default=4)
    parser.add_argument('--data-batches', type=int, default=0,
                        help='> 0: also time this many training '
                        'dataloader batches per tool (0: skip)')
    parser.add_argument('--workers', type=int, default=0,
                        help='dataloader workers, both tools (0: in this '
                        'process; with workers, a loader keeps decoding '
                        'ahead while the other is timed)')
    parser.add_argument('--cache', action='store_true',
                        help='data rows with both RAM caches (csdet '
                        'cache_images=True, reference cache=ram)')
    parser.add_argument('--iterations', type=int, default=0,
                        help='> 0: also time training iterations with '
                        'data (loader + forward/loss/backward), this many '
                        'per repeat (0: skip)')
    parser.add_argument('--epochs', type=int, default=0,
                        help='>= 2: also train with each tool\'s own '
                        'training loop (tools/train.py\'s Runner; the '
                        'reference\'s train()) for this many epochs per '
                        'run and time every epoch after the first (0: skip)')
    parser.add_argument('--epoch-workers', type=int, default=2,
                        help='dataloader workers of the --epochs runs, both '
                        'tools (2: both tools\' default on 2 cores)')
    parser.add_argument('--train-runs', type=int, default=3,
                        help='training runs per tool for --epochs')
    parser.add_argument('--log', default='work_dirs/benchmark_epochs.log',
                        help='where the --epochs training runs print')
    parser.add_argument('--compile', action='store_true',
                        help='also time the model-only training step with '
                        'model.compile_features=True (torch.compile; the '
                        'compilation itself is not timed)')
    parser.add_argument('--epochs-only', action='store_true',
                        help='with --epochs: skip the model-only rows')
    parser.add_argument('--cs-config',
                        help='also time this cost-sensitive config\'s '
                        'model-only training step against --config\'s '
                        '(e.g. configs/cs_yolov5_neu_quick.py)')
    parser.add_argument('--reference', type=Path, default=DEFAULT_REFERENCE,
                        help='folder holding the yolov5 package')
    args = parser.parse_args(argv)
    if args.epochs == 1 or args.epochs < 0:
        parser.error('--epochs must be 0 (skip) or >= 2: each run\'s first '
                     'epoch is not timed')
    if args.epochs_only and not args.epochs:
        parser.error('--epochs-only needs --epochs')
    return args


# ---------------------------------------------------------------- helpers

def summarise(what: str, csdet_s: Sequence[float],
              reference_s: Sequence[float]) -> Tuple[str, float, float,
                                                     float]:
    """(what, csdet median ms, reference median ms, csdet / reference)."""
    ours = statistics.median(csdet_s) * 1e3
    theirs = statistics.median(reference_s) * 1e3
    return what, ours, theirs, ours / theirs


def format_table(rows: Sequence[Tuple[str, float, float, float]],
                 columns: Sequence[str] = ('csdet ms', 'reference ms',
                                           'csdet/ref')) -> str:
    """Fixed-width table of :func:`summarise` rows."""
    width = max([len('what')] + [len(row[0]) for row in rows])
    lines = [f'{"what":<{width}}  {columns[0]:>10}  {columns[1]:>12}  '
             f'{columns[2]:>9}']
    for what, ours, theirs, ratio in rows:
        lines.append(f'{what:<{width}}  {ours:>10.1f}  {theirs:>12.1f}  '
                     f'{ratio:>9.2f}')
    return '\n'.join(lines)


def random_boxes(num_imgs: int, per_image: int, img_size: int,
                 num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """(num_imgs * per_image, 6) rows (image, label, cx, cy, w, h), pixels,
    boxes 8..img_size/2 px wide, inside the image."""
    count = num_imgs * per_image
    wh = torch.rand(count, 2, generator=generator) * (img_size / 2 - 8) + 8
    centre = wh / 2 + torch.rand(count, 2, generator=generator) * (
        img_size - wh)
    images = torch.arange(num_imgs).repeat_interleave(per_image).float()
    labels = torch.randint(0, num_classes, (count, ), generator=generator)
    return torch.cat((images[:, None], labels[:, None].float(), centre, wh),
                     1)


# ----------------------------------------------------------------- models
def import_reference(folder: Path):
    if not (folder / 'yolov5').is_dir():
        raise SystemExit(f'error: no yolov5 package in {folder} (bash '
                         'tools/setup_env.sh installs it; or pass '
                         '--reference FOLDER)')
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    os.environ.setdefault('YOLOV5_CONFIG_DIR', tempfile.mkdtemp())
    from csdet.models.utils import import_yolov5_reference
    reference = import_yolov5_reference()
    logging.getLogger('yolov5').setLevel(logging.WARNING)
    return reference


def build_pair(reference, cfg, num_classes: int, img_size: int):
    """The reference yolov5n and the config's csdet model, same weights."""
    from mmdet.registry import MODELS

    from csdet.models.utils import convert_state_dict
    torch.manual_seed(0)
    with contextlib.redirect_stdout(None):
        ref = reference.yolo.Model(
            str(reference.root / 'models' / 'yolov5n.yaml'), nc=num_classes)
    detect = ref.model[-1]
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for conv in detect.m:
            conv.weight.mul_(0.3)
            bias = conv.bias.view(detect.na, -1)
            noise = torch.rand(bias.shape, generator=generator)
            bias[:, :4] = noise[:, :4] - 0.5
            bias[:, 4] = noise[:, 4] * 4 - 8  # objectness
            bias[:, 5:] = noise[:, 5:] * 3 - 2  # classes
    nl = detect.nl
    hyp = dict(SCRATCH_LOW)
    hyp['box'] *= 3 / nl
    hyp['cls'] *= num_classes / 80 * 3 / nl
    hyp['obj'] *= (img_size / 640)**2 * 3 / nl
    ref.hyp, ref.nc = hyp, num_classes

    converted = convert_state_dict(ref)
    ours = MODELS.build(cfg.model)
    ours.load_state_dict(converted.state_dict, strict=True)
    return ref, ours


def samples_for(boxes: torch.Tensor, num_imgs: int, img_size: int) -> list:
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    samples = []
    for index in range(num_imgs):
        rows = boxes[boxes[:, 0] == index]
        xyxy = torch.cat((rows[:, 2:4] - rows[:, 4:6] / 2,
                          rows[:, 2:4] + rows[:, 4:6] / 2), 1)
        sample = DetDataSample(metainfo=dict(
            img_shape=(img_size, img_size), ori_shape=(img_size, img_size),
            batch_input_shape=(img_size, img_size), scale_factor=(1.0, 1.0),
            pad_shape=(img_size, img_size)))
        sample.gt_instances = InstanceData(bboxes=xyxy,
                                           labels=rows[:, 1].long())
        samples.append(sample)
    return samples


def bench_train_step(ref, ours, reference, args, num_classes) -> list:
    generator = torch.Generator().manual_seed(2)
    n, size = args.batch_size, args.img_size
    images = torch.rand(n, 3, size, size, generator=generator)
    boxes = random_boxes(n, args.boxes_per_image, size, num_classes,
                         generator)
    targets = boxes.clone()
    targets[:, 2:] /= size
    samples = samples_for(boxes, n, size)
    compute_loss = reference.loss.ComputeLoss(ref)
    ref.train()
    ours.train()

    def step_ref():
        loss, _ = compute_loss(ref(images), targets)
        loss.sum().backward()
        ref.zero_grad(set_to_none=True)

    def step(model):
        losses = model.loss(images, samples)
        sum(losses.values()).backward()
        model.zero_grad(set_to_none=True)

    calls = dict(csdet=lambda: step(ours), reference=step_ref)
    if args.compile:
        compiled = compiled_copy(ours)
        calls['compiled'] = lambda: step(compiled)
        step(compiled)  # compiles (not timed)
    times = alternate(calls, args.repeats, args.warmup)
    rows = [summarise(f'train step, model only (batch {n})',
                      times['csdet'], times['reference'])]
    if args.compile:
        rows.append(summarise(
            f'train step, model only (batch {n}), compile_features',
            times['compiled'], times['reference']))
    return rows


def compiled_copy(model):
    """``model`` with ``compile_features`` on (same weights)."""
    import copy
    compiled = copy.deepcopy(model)
    compiled.compile_features = True
    return compiled


class _TimeLimitCounter(logging.Handler):
    """Counts the reference's 'NMS time limit exceeded' warnings."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if 'NMS time limit' in record.getMessage():
            self.count += 1


def bench_inference(ref, ours, reference, args) -> list:
    import copy
    conf, iou, multi_label, max_det = VAL_NMS
    ours.eval()
    ref.eval()
    ours.bbox_head.test_cfg = dict(
        score_thr=conf, nms=dict(type='nms', iou_threshold=iou),
        max_per_img=max_det, multi_label=multi_label, nms_pre=30000)
    # as tools/test.py / DefectDetector and val.py / detect.py run them
    ours_fused = copy.deepcopy(ours).fuse_for_inference()
    with contextlib.redirect_stdout(None):
        ref_fused = copy.deepcopy(ref).fuse().eval()
    nms = reference.general.non_max_suppression
    rows = []
    for n in sorted({1, args.batch_size}):
        images = torch.rand(n, 3, args.img_size, args.img_size,
                            generator=torch.Generator().manual_seed(3))
        samples = samples_for(torch.zeros(0, 6), n, args.img_size)

        def run_ours(model, images=images, samples=samples):
            with torch.no_grad():
                return model.predict(images, samples, rescale=False)

        def run_ref(model, images=images):
            with torch.no_grad():
                return nms(model(images)[0], conf, iou,
                           multi_label=multi_label, max_det=max_det)

        counter = _TimeLimitCounter()
        logging.getLogger('yolov5').addHandler(counter)
        times = alternate(dict(csdet=lambda: run_ours(ours_fused),
                               reference=lambda: run_ref(ref_fused),
                               csdet_unfused=lambda: run_ours(ours),
                               reference_unfused=lambda: run_ref(ref)),
                          args.repeats, args.warmup)
        logging.getLogger('yolov5').removeHandler(counter)
        if counter.count:
            print(f'note: the reference NMS hit its time limit '
                  f'{counter.count} times at batch {n}: its times are '
                  'too short')
        rows.append(summarise(f'inference + NMS, batch {n}, Conv+BN fused',
                              times['csdet'], times['reference']))
        rows.append(summarise(f'inference + NMS, batch {n}, unfused',
                              times['csdet_unfused'],
                              times['reference_unfused']))
    return rows


# ------------------------------------------------------------- data path
def write_yolo_labels(ann_file: Path, img_dir: Path, out: Path) -> Path:
    """images/ (symlinks) + labels/*.txt under ``out`` from a COCO json;
    returns the images folder. Category ids map to 0.. in id order."""
    coco = json.loads(ann_file.read_text())
    cat_ids = sorted(cat['id'] for cat in coco['categories'])
    cat_index = {cat_id: index for index, cat_id in enumerate(cat_ids)}
    lines: Dict[int, List[str]] = {}
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        lines.setdefault(ann['image_id'], []).append((ann, x, y, w, h))
    (out / 'images').mkdir(parents=True)
    (out / 'labels').mkdir()
    for image in coco['images']:
        src = img_dir / image['file_name']
        if not src.is_file():
            raise FileNotFoundError(f'{ann_file}: image {src} is missing')
        (out / 'images' / src.name).symlink_to(src.resolve())
        width, height = image['width'], image['height']
        rows = [
            f'{cat_index[ann["category_id"]]} {(x + w / 2) / width:.6f} '
            f'{(y + h / 2) / height:.6f} {w / width:.6f} {h / height:.6f}'
            for ann, x, y, w, h in lines.get(image['id'], [])
        ]
        (out / 'labels' / (src.stem + '.txt')).write_text('\n'.join(rows))
    return out / 'images'


def draw_batches(batches, to_input, count: int) -> None:
    """Draw ``count`` batches from the endless iterator ``batches`` and turn
    each into the model's input tensor."""
    for _ in range(count):
        to_input(next(batches))


def endless(loader):
    """Batches of ``loader``, epoch after epoch."""
    while True:
        yield from loader


def build_loaders(cfg, reference, args, folder: Path):
    """(csdet loader, reference loader) on the config's train split, batch
    ``--batch-size``, ``--workers`` each, RAM caches with ``--cache``."""
    import importlib

    import yaml
    from mmengine.runner import Runner

    from csdet.utils.config import innermost_dataset
    loader_cfg = cfg.train_dataloader
    loader_cfg.num_workers = args.workers
    loader_cfg.persistent_workers = args.workers > 0
    loader_cfg.batch_size = args.batch_size
    if args.cache:
        loader_cfg.dataset.cache_images = True
    inner = innermost_dataset(loader_cfg)
    data_root = Path(inner['data_root'])
    ann_file = data_root / inner['ann_file']
    img_dir = data_root / inner['data_prefix']['img']
    if not ann_file.is_file():
        raise SystemExit(f'error: {ann_file} missing (run from the '
                         'repository root, with data/NEU-DET converted)')
    dataloaders = importlib.import_module('yolov5.utils.dataloaders')
    hyp_file = reference.root / 'data' / 'hyps' / 'hyp.scratch-low.yaml'
    hyp = yaml.safe_load(hyp_file.read_text())
    images = write_yolo_labels(ann_file, img_dir, folder / 'yolo')
    with contextlib.redirect_stdout(None):
        ours = Runner.build_dataloader(loader_cfg, seed=0)
        theirs, _ = dataloaders.create_dataloader(
            str(images), args.img_size, args.batch_size, 32, hyp=hyp,
            augment=True, workers=args.workers, shuffle=True, prefix='',
            cache='ram' if args.cache else False)
    return ours, theirs


def ours_to_input(model):
    """csdet batch -> input tensor: the detector's data preprocessor
    (stack, BGR -> RGB, / 255), as mmengine's train step runs it."""
    return lambda batch: model.data_preprocessor(batch, True)['inputs']


def ref_to_input(batch):
    """Reference batch -> input tensor, as its train.py: float / 255."""
    return batch[0].float() / 255


def bench_data(cfg, reference, ours_model, args) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        # the loaders (and any workers) end with the call, before the folder
        return _bench_data(cfg, reference, ours_model, args, Path(tmp))


def _bench_data(cfg, reference, ours_model, args, folder: Path) -> list:
    ours, theirs = build_loaders(cfg, reference, args, folder)
    count = args.data_batches
    batches = dict(csdet=endless(ours), reference=endless(theirs))
    to_input = dict(csdet=ours_to_input(ours_model), reference=ref_to_input)
    times = alternate(
        {name: (lambda name=name: draw_batches(
            batches[name], to_input[name], count))
         for name in batches}, args.repeats, warmup=1)
    cache = ', RAM cache' if args.cache else ''
    return [summarise(
        f'train batch to model input, per batch of {args.batch_size} '
        f'({args.workers} workers{cache})',
        [t / count for t in times['csdet']],
        [t / count for t in times['reference']])]


def bench_iterations(cfg, reference, ref, ours, args) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        return _bench_iterations(cfg, reference, ref, ours, args, Path(tmp))


def _bench_iterations(cfg, reference, ref, ours, args, folder: Path) -> list:
    """Training iterations with data: next batch -> model input ->
    forward + loss + backward + zero_grad (no optimizer step, no EMA)."""
    compute_loss = reference.loss.ComputeLoss(ref)
    ref.train()
    ours.train()
    ours_loader, theirs_loader = build_loaders(cfg, reference, args, folder)
    ours_batches, theirs_batches = endless(ours_loader), endless(
        theirs_loader)

    def step_ours():
        data = ours.data_preprocessor(next(ours_batches), True)
        losses = ours.loss(data['inputs'], data['data_samples'])
        sum(losses.values()).backward()
        ours.zero_grad(set_to_none=True)

    def step_ref():
        imgs, targets, _, _ = next(theirs_batches)
        loss, _ = compute_loss(ref(imgs.float() / 255), targets)
        loss.sum().backward()
        ref.zero_grad(set_to_none=True)

    count = args.iterations
    times = alternate(
        dict(csdet=lambda: [step_ours() for _ in range(count)],
             reference=lambda: [step_ref() for _ in range(count)]),
        args.repeats, warmup=1)
    return [summarise(
        f'train iteration with data, batch {args.batch_size} '
        f'({args.workers} workers), per iteration',
        [t / count for t in times['csdet']],
        [t / count for t in times['reference']])]


# ------------------------------------------------- whole training loops
class EpochsDone(Exception):
    """Raised at the end of the last timed epoch: the run stops there."""


def epoch_settings(args) -> dict:
    """What a training-loop child needs (plain values: spawn pickles it)."""
    return dict(config=args.config, cfg_options=args.cfg_options,
                epochs=args.epochs, workers=args.epoch_workers,
                batch_size=args.batch_size, cache=args.cache, threads=args.threads,
                reference=str(args.reference))


def run_csdet_epochs(settings: dict, folder: Path) -> List[float]:
    """Seconds per epoch of tools/train.py's Runner on the config (its
    hooks, EMA, optimizer wrapper, loader with ``workers``); no validation,
    anchors left as configured (AutoAnchor off, as in the reference run)."""
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    import csdet  # noqa: F401
    from csdet.utils.runner_setup import load_config
    epochs = settings['epochs']
    cfg = load_config(settings['config'], settings['cfg_options'],
                      str(folder / 'csdet'))
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs + 1
    loader = cfg.train_dataloader
    loader.num_workers = settings['workers']
    loader.persistent_workers = settings['workers'] > 0
    loader.batch_size = settings['batch_size']
    loader.dataset.cache_images = settings['cache']
    for hook in cfg.get('custom_hooks') or []:
        if hook['type'] == 'YOLOv5AutoAnchorHook':
            hook['enabled'] = False
    seconds: List[float] = []

    class EpochClock(Hook):
        def before_train_epoch(self, runner) -> None:
            self.start = time.perf_counter()

        def after_train_epoch(self, runner) -> None:
            seconds.append(time.perf_counter() - self.start)
            if len(seconds) == epochs:
                raise EpochsDone

    runner = Runner.from_cfg(cfg)
    runner.register_hook(EpochClock(), priority='HIGHEST')
    with contextlib.suppress(EpochsDone):
        runner.train()
    return seconds


def reference_train_module(reference_folder: Path):
    """The reference's train.py module, offline: its Roboflow client
    (roboflow.com datasets only) gets a stand-in module and its Hugging Face
    weight lookup (hub model names only) answers 'not there'; neither
    package is installed."""
    import importlib
    import types
    import_reference(reference_folder)
    stand_in = types.ModuleType('yolov5.utils.roboflow')
    stand_in.RoboflowConnector = None
    sys.modules.setdefault('yolov5.utils.roboflow', stand_in)
    train = importlib.import_module('yolov5.train')
    train.attempt_download_from_hub = lambda *args, **kwargs: None
    return train


def skip_reference_validation(train) -> None:
    """Replace the per-epoch validation of the reference's ``train()``
    (after the timed part of an epoch) by a no-op result: 7.0.14's own
    fails here (``np.trapz`` is gone in NumPy 2; ``--noval`` leaves
    ``map50s`` unset)."""
    import types

    import numpy as np

    def no_validation(data, **kwargs):
        classes = int(data['nc'])
        return (0.0, ) * 7, np.zeros(classes), np.zeros(classes), None

    train.validate = types.SimpleNamespace(run=no_validation)


def run_reference_epochs(settings: dict, folder: Path) -> List[float]:
    """Seconds per epoch of the reference's ``train()`` (its loop, loader
    with ``workers``, EMA, warm-up, accumulation) on the same split and
    recipe: yolov5n, hyp.scratch-low, cosine lr, no AutoAnchor, no plots,
    no validation; it stops at the end of the last timed epoch."""
    import yaml

    from csdet.utils.config import innermost_dataset, load_resolved
    train = reference_train_module(Path(settings['reference']))
    skip_reference_validation(train)
    general = sys.modules['yolov5.utils.general']
    # check_dataset() fetches a plotting font unless the file exists; no
    # plot is drawn (noplots), so an empty stand-in keeps it offline
    (general.CONFIG_DIR / 'Arial.ttf').touch()
    cfg = load_resolved(settings['config'], settings['cfg_options'])
    inner = innermost_dataset(cfg.train_dataloader)
    data_root = Path(inner['data_root'])
    images = write_yolo_labels(data_root / inner['ann_file'],
                               data_root / inner['data_prefix']['img'],
                               folder / 'yolo')
    categories = json.loads((data_root / inner['ann_file']).read_text())[
        'categories']
    classes = [cat['name'] for cat in sorted(categories,
                                             key=lambda cat: cat['id'])]
    data = folder / 'data.yaml'
    data.write_text(yaml.safe_dump(dict(
        train=str(images), val=str(images), nc=len(classes), names=classes)))
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        opt = train.parse_opt(known=True)
    finally:
        sys.argv = argv
    root = sys.modules['yolov5'].__path__[0]
    opt.__dict__.update(
        data=str(data), cfg=f'{root}/models/yolov5n.yaml', weights='',
        hyp=f'{root}/data/hyps/hyp.scratch-low.yaml',
        epochs=settings['epochs'], batch_size=settings['batch_size'],
        imgsz=int(cfg.img_size), workers=settings['workers'],
        cache='ram' if settings['cache'] else None, noplots=True,
        noautoanchor=True, cos_lr=True, seed=0,
        save_dir=str(folder / 'reference'))
    seconds: List[float] = []
    start = []
    callbacks = sys.modules['yolov5.utils.callbacks'].Callbacks()

    def epoch_end(epoch):
        seconds.append(time.perf_counter() - start[-1])
        if len(seconds) == settings['epochs']:
            raise EpochsDone

    callbacks.register_action(
        'on_train_epoch_start',
        callback=lambda: start.append(time.perf_counter()))
    callbacks.register_action('on_train_epoch_end', callback=epoch_end)
    device = sys.modules['yolov5.utils.torch_utils'].select_device('cpu')
    with contextlib.suppress(EpochsDone):
        train.train(opt.hyp, opt, device, callbacks)
    return seconds


def run_csdet_compiled_epochs(settings: dict, folder: Path) -> List[float]:
    """:func:`run_csdet_epochs` with ``model.compile_features=True``."""
    options = dict(settings['cfg_options'] or {})
    options['model.compile_features'] = True
    return run_csdet_epochs(dict(settings, cfg_options=options), folder)


EPOCH_RUNNERS = dict(csdet=run_csdet_epochs,
                     csdet_compiled=run_csdet_compiled_epochs,
                     reference=run_reference_epochs)


def epoch_child(tool: str, settings: dict, result: str, log: str) -> None:
    """A spawned process: one training run of ``tool``; the epoch times go
    to ``result`` (JSON), everything the run prints to ``log``."""
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    torch.set_num_threads(settings['threads'])
    # this process was spawned; the tools' own pools and loaders fork, as
    # they do when started from a shell (spawned workers would re-import
    # the reference without its offline stand-ins)
    import multiprocessing
    multiprocessing.set_start_method('fork', force=True)
    with tempfile.TemporaryDirectory() as tmp:
        seconds = EPOCH_RUNNERS[tool](settings, Path(tmp))
    Path(result).write_text(json.dumps(seconds))


def train_run(tool: str, settings: dict, folder: Path, index: int,
              log: Path) -> List[float]:
    """One training run of ``tool`` in a fresh process (no global state,
    e.g. the reference's deterministic-algorithms switch, reaches the
    other tool); its epoch times."""
    import multiprocessing
    result = folder / f'{tool}_{index}.json'
    process = multiprocessing.get_context('spawn').Process(
        target=epoch_child, args=(tool, settings, str(result), str(log)))
    process.start()
    process.join()
    if process.exitcode != 0 or not result.is_file():
        raise SystemExit(f'error: the {tool} training run failed (exit '
                         f'{process.exitcode}); its output: {log}')
    return json.loads(result.read_text())


def epoch_tools(args) -> Dict[str, str]:
    """Row label -> runner name of the tools in the --epochs rotation."""
    tools = dict(csdet='csdet', reference='reference')
    if args.compile:
        tools['csdet, compile_features'] = 'csdet_compiled'
    return tools


def bench_epochs(args) -> list:
    """``--train-runs`` runs per tool, in rotation (the order reverses every
    run), each training ``--epochs`` epochs; every epoch but each run's first
    (worker start-up, compilation; the reference's loader starts its workers
    before the loop) is timed. Rows: median and fastest timed epoch of each
    csdet variant against the reference's."""
    settings = epoch_settings(args)
    log = Path(args.log).resolve()
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text('')
    tools = epoch_tools(args)
    times: Dict[str, List[float]] = {label: [] for label in tools}
    per_run: Dict[str, List[float]] = {label: [] for label in tools}
    order = list(tools)
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.train_runs):
            for label in (order if run % 2 == 0 else order[::-1]):
                seconds = train_run(tools[label], settings, Path(tmp), run,
                                    log)
                print(f'  run {run} {label}: epochs '
                      + ' '.join(f'{s:.1f}' for s in seconds) + ' s',
                      flush=True)
                times[label] += seconds[1:]
                per_run[label].append(statistics.median(seconds[1:]))
    cache = ', RAM cache' if args.cache else ''
    what = (f'training epoch, real loops (batch {args.batch_size}, '
            f'{args.epoch_workers} workers{cache})')
    rows = []
    for label in order:
        if label == 'reference':
            continue
        ratios = [ours / theirs for ours, theirs in
                  zip(per_run[label], per_run['reference'])]
        print(f'  {label} / reference by run: '
              + ' '.join(f'{ratio:.2f}' for ratio in ratios)
              + f' (median {statistics.median(ratios):.2f})', flush=True)
        suffix = label[len('csdet'):]  # '' or ', compile_features'
        rows.append(summarise(f'{what}{suffix}, median epoch',
                              times[label], times['reference']))
        rows.append(summarise(f'{what}{suffix}, fastest epoch',
                              [min(times[label])],
                              [min(times['reference'])]))
    return rows


def bench_cs_overhead(cfg, ours, args, num_classes) -> list:
    """``--cs-config`` against ``--config`` (same weights and batch): the
    model-only training step, and the head's loss + its backward alone (on
    fixed prediction maps). A second copy of the plain model, timed in the
    same rounds, gives the noise floor. Ratios: medians of the per-round
    ratios (each round runs the calls back to back)."""
    from mmdet.registry import MODELS

    from csdet.utils.config import load_resolved
    cs_model = MODELS.build(
        load_resolved(args.cs_config, args.cfg_options).model)
    missing, unexpected = cs_model.load_state_dict(ours.state_dict(),
                                                   strict=False)
    if unexpected or any(not key.startswith('bbox_head.loss_cls')
                         for key in missing):
        raise SystemExit(f'error: {args.cs_config} is not {args.config} '
                         f'plus a class loss (missing {missing}, '
                         f'unexpected {unexpected})')
    control = MODELS.build(cfg.model)
    control.load_state_dict(ours.state_dict(), strict=True)
    models = dict(plain=ours, cs=cs_model, control=control)
    generator = torch.Generator().manual_seed(2)
    n, size = args.batch_size, args.img_size
    images = torch.rand(n, 3, size, size, generator=generator)
    samples = samples_for(
        random_boxes(n, args.boxes_per_image, size, num_classes, generator),
        n, size)
    gts = [sample.gt_instances for sample in samples]
    metas = [sample.metainfo for sample in samples]
    with torch.no_grad():
        ours.train()
        maps = ours.bbox_head(ours.extract_feat(images))[0]

    def step(model):
        model.train()
        losses = model.loss(images, samples)
        sum(losses.values()).backward()
        model.zero_grad(set_to_none=True)

    def head_loss(model):
        leaves = [level.detach().requires_grad_() for level in maps]
        losses = model.bbox_head.loss_by_feat(leaves, gts, metas)
        sum(losses.values()).backward()

    rows = []
    for what, call in ((f'train step, model only (batch {n})', step),
                       (f'head loss + backward only (batch {n})',
                        head_loss)):
        times = alternate({name: (lambda model=model: call(model))
                           for name, model in models.items()},
                          args.repeats, args.warmup)
        for name, label in (('cs', what),
                            ('control', '  same, plain copy (noise)')):
            ratio = statistics.median(
                other / plain
                for other, plain in zip(times[name], times['plain']))
            rows.append((label, statistics.median(times[name]) * 1e3,
                         statistics.median(times['plain']) * 1e3, ratio))
    return rows


def versions() -> str:
    import mmdet
    import mmengine
    from importlib.metadata import version
    import csdet
    return (f'csdet {getattr(csdet, "__version__", "?")}, mmdet '
            f'{mmdet.__version__}, mmengine {mmengine.__version__}, torch '
            f'{torch.__version__}, yolov5 {version("yolov5")}, '
            f'threads {torch.get_num_threads()}, cpus {os.cpu_count()}')


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    reference = import_reference(args.reference)
    import csdet  # noqa: F401  (registers the csdet modules)
    from csdet.utils.config import load_resolved
    cfg = load_resolved(args.config, args.cfg_options)
    num_classes = int(cfg.model.bbox_head.num_classes)
    ref, ours = build_pair(reference, cfg, num_classes, args.img_size)
    rows = []
    if args.epochs:
        rows += bench_epochs(args)
    if not args.epochs_only:
        rows += bench_train_step(ref, ours, reference, args, num_classes)
        rows += bench_inference(ref, ours, reference, args)
    if args.data_batches > 0:
        rows += bench_data(cfg, reference, ours, args)
    if args.iterations > 0:
        rows += bench_iterations(cfg, reference, ref, ours, args)
    print(format_table(rows))
    if args.cs_config:
        print('\nCost-sensitive loss overhead (median of per-repeat ratios):')
        cs_rows = bench_cs_overhead(cfg, ours, args, num_classes)
        print(format_table(cs_rows, columns=('CS ms', 'plain ms',
                                             'CS/plain')))
        extra = cs_rows[2][1] - cs_rows[2][2]
        print(f'CS loss: {extra:+.2f} ms per step in the head loss = '
              f'{100 * extra / cs_rows[0][2]:+.2f}% of the plain step')
    print(versions())
    print(f'{args.repeats} repeats (median), {args.warmup} warm-up, '
          f'{args.img_size} px, config {args.config} (channels_last='
          f'{getattr(ours, "channels_last", False)})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
