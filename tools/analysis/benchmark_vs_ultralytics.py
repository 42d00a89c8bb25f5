"""csdet vs the Ultralytics YOLOv5 v7.0 reference, side by side on this CPU.

    python tools/analysis/benchmark_vs_ultralytics.py \
        [--config configs/yolov5_neu_quick.py] [--threads 1] [--repeats 7] \
        [--data-batches 0]

Run from the repository root. Both tools run in this one process with the
same number of intra-op threads; each measured call of one tool is followed
by the same call of the other (the order flips every repeat), after untimed
warm-up rounds, and the median of the repeats is printed.

Measured:

* training step (model only): forward + loss + backward + zero_grad on the
  same weights (the reference's ``yolov5n.yaml`` with nc = the config's
  class count, converted with :func:`csdet.models.utils.convert_state_dict`),
  the same random batch at ``--img-size`` and the same targets. Reference
  loss: ``ComputeLoss`` with hyp.scratch-low values scaled as its train.py
  does; csdet loss: the config's model (``load_resolved``).
* inference at batch 1 and ``--batch-size``: forward + decoding + NMS at the
  val settings (conf 0.001, IoU 0.6, multi-label, 300 per image); the
  reference once as trained (Conv+BN separate, as its in-training val) and
  once with its ``fuse()`` (as its standalone val.py / detect.py).
* ``--data-batches N`` (> 0): N batches of each tool's training dataloader
  on the config's train split (csdet's ``train_dataloader``; the
  reference's ``create_dataloader`` with the same hyp, Mosaic on, on YOLO
  labels written to a temporary folder from the COCO json): seconds per
  batch over N batches, the two loaders alternating; ``--workers 0``
  (default) loads in this process, so that neither loader prefetches while
  the other is timed.

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
    parser.add_argument('--reference', type=Path, default=DEFAULT_REFERENCE,
                        help='folder holding the yolov5 package')
    return parser.parse_args(argv)


# ---------------------------------------------------------------- helpers

def summarise(what: str, csdet_s: Sequence[float],
              reference_s: Sequence[float]) -> Tuple[str, float, float,
                                                     float]:
    """(what, csdet median ms, reference median ms, csdet / reference)."""
    ours = statistics.median(csdet_s) * 1e3
    theirs = statistics.median(reference_s) * 1e3
    return what, ours, theirs, ours / theirs


def format_table(rows: Sequence[Tuple[str, float, float, float]]) -> str:
    """Fixed-width table of :func:`summarise` rows."""
    width = max([len('what')] + [len(row[0]) for row in rows])
    lines = [f'{"what":<{width}}  {"csdet ms":>10}  {"reference ms":>12}  '
             f'{"csdet/ref":>9}']
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

    def step_ours():
        losses = ours.loss(images, samples)
        sum(losses.values()).backward()
        ours.zero_grad(set_to_none=True)

    times = alternate(dict(csdet=step_ours, reference=step_ref),
                      args.repeats, args.warmup)
    return [summarise(f'train step, model only (batch {n})',
                      times['csdet'], times['reference'])]


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
    with contextlib.redirect_stdout(None):
        fused = copy.deepcopy(ref).fuse().eval()
    nms = reference.general.non_max_suppression
    rows = []
    for n in sorted({1, args.batch_size}):
        images = torch.rand(n, 3, args.img_size, args.img_size,
                            generator=torch.Generator().manual_seed(3))
        samples = samples_for(torch.zeros(0, 6), n, args.img_size)

        def run_ours(images=images, samples=samples):
            with torch.no_grad():
                return ours.predict(images, samples, rescale=False)

        def run_ref(model, images=images):
            with torch.no_grad():
                return nms(model(images)[0], conf, iou,
                           multi_label=multi_label, max_det=max_det)

        counter = _TimeLimitCounter()
        logging.getLogger('yolov5').addHandler(counter)
        times = alternate(dict(csdet=run_ours,
                               reference=lambda: run_ref(ref),
                               fused=lambda: run_ref(fused)),
                          args.repeats, args.warmup)
        logging.getLogger('yolov5').removeHandler(counter)
        if counter.count:
            print(f'note: the reference NMS hit its time limit '
                  f'{counter.count} times at batch {n}: its times are '
                  'too short')
        rows.append(summarise(f'inference + NMS, batch {n}',
                              times['csdet'], times['reference']))
        rows.append(summarise(f'inference + NMS, batch {n}, ref fused',
                              times['csdet'], times['fused']))
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


def time_batches(loader, count: int) -> float:
    """Seconds to draw ``count`` batches (first batch included)."""
    start = time.perf_counter()
    for index, _ in enumerate(loader):
        if index + 1 >= count:
            break
    return time.perf_counter() - start


def bench_data(cfg, reference, args) -> list:
    import importlib
    from mmengine.runner import Runner

    from csdet.utils.config import innermost_dataset
    loader_cfg = cfg.train_dataloader
    loader_cfg.num_workers = args.workers
    loader_cfg.persistent_workers = args.workers > 0
    loader_cfg.batch_size = args.batch_size
    inner = innermost_dataset(loader_cfg)
    data_root = Path(inner['data_root'])
    ann_file = data_root / inner['ann_file']
    img_dir = data_root / inner['data_prefix']['img']
    if not ann_file.is_file():
        raise SystemExit(f'error: {ann_file} missing (run from the '
                         'repository root, with data/NEU-DET converted)')
    dataloaders = importlib.import_module('yolov5.utils.dataloaders')
    hyp_file = reference.root / 'data' / 'hyps' / 'hyp.scratch-low.yaml'
    import yaml
    hyp = yaml.safe_load(hyp_file.read_text())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        images = write_yolo_labels(ann_file, img_dir, Path(tmp) / 'yolo')
        with contextlib.redirect_stdout(None):
            ours = Runner.build_dataloader(loader_cfg, seed=0)
            theirs, _ = dataloaders.create_dataloader(
                str(images), args.img_size, args.batch_size, 32,
                hyp=hyp, augment=True, workers=args.workers, shuffle=True,
                prefix='')
        count = args.data_batches
        times = {'csdet': [], 'reference': []}
        for repeat in range(args.repeats):
            order = (('csdet', ours), ('reference', theirs))
            for name, loader in (order if repeat % 2 == 0 else order[::-1]):
                times[name].append(time_batches(loader, count) / count)
        rows.append(summarise(
            f'train dataloader, per batch of {args.batch_size} '
            f'({args.workers} workers)', times['csdet'], times['reference']))
        del ours, theirs  # stop any workers before the folder goes
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
    cfg = load_resolved(args.config)
    num_classes = int(cfg.model.bbox_head.num_classes)
    ref, ours = build_pair(reference, cfg, num_classes, args.img_size)
    rows = bench_train_step(ref, ours, reference, args, num_classes)
    rows += bench_inference(ref, ours, reference, args)
    if args.data_batches > 0:
        rows += bench_data(cfg, reference, args)
    print(format_table(rows))
    print(versions())
    print(f'{args.repeats} repeats (median), {args.warmup} warm-up, '
          f'{args.img_size} px, config {args.config}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
