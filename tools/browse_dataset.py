"""Draw a config's ground truth before and after its data pipeline.

    python tools/browse_dataset.py CONFIG [--split train|test] [--n N]
        [--out-dir D] [--cfg-options ...]
    python tools/browse_dataset.py CONFIG --split test --check

For the first N images of the split, writes one PNG per image under D
(default work_dirs/browse/<config name>/<split>/): on the left the image as
stored with its boxes, on the right what the model is fed after the split's
pipeline (for train: mosaic, perspective, flips, ...), with its boxes.
Class names and colours come from the dataset's metainfo.

For the drawing, LoadAnnotations runs right after image loading (moved
there, or added when an evaluation pipeline has none or loads the boxes
after resizing, in original pixels for the metrics), so that the boxes
follow the same resize / letterbox as the image.

--check checks the split's annotation file and images instead (every
problem at once; see csdet/datasets/check.py) and exits with 1 when there
are problems.
"""
from __future__ import annotations

import argparse
import copy
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

import cv2
import mmcv
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import set_random_seed
from mmengine.structures import InstanceData
from tqdm import tqdm

import csdet  # noqa: F401  (registers csdet datasets and transforms)
from csdet.datasets.check import config_dataset_reports
from csdet.utils.atomic import atomic_path
from csdet.utils.runner_setup import UserInputError, load_config

MIN_PANEL_HEIGHT = 384  # small images are enlarged so labels stay legible
GAP = 8  # px of white between the panels
TITLE_HEIGHT = 24


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw ground truth before and after the data pipeline')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--split', default='train', choices=['train', 'test'],
                        help='which loader to browse (default: train)')
    parser.add_argument('--out-dir', help='output folder (default: '
                        'work_dirs/browse/<config name>/<split>)')
    parser.add_argument('--n', type=int, default=20,
                        help='number of images (default: 20)')
    parser.add_argument('--check', action='store_true',
                        help='check the split\'s files instead of drawing; '
                        'exit code 1 when there are problems')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config fields')
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error('--n must be >= 1')
    return args


def run_check(cfg: Config, split: str) -> int:
    """Print the check report of ``split``'s datasets; 1 on problems."""
    reports = config_dataset_reports(cfg, (split, ))
    if not reports:
        raise UserInputError(f'the config has no {split}_dataloader dataset '
                             'with an annotation file to check')
    for name, report in reports:
        print(f'[{name}] {report.format()}')
    return 0 if all(report.ok for _, report in reports) else 1


def annotations_follow_image(pipeline: List[dict]) -> List[dict]:
    """A pipeline that loads an image, with LoadAnnotations right after
    the loading (moved there, or added when the pipeline has none), so that
    every later transform also moves the boxes. Other pipelines (a
    wrapper's, which gets loaded images) are returned unchanged."""
    def is_step(step, name: str) -> bool:
        kind = str(step.get('type')) if isinstance(step, dict) else ''
        return kind.split('.')[-1].startswith(name)

    if not any(is_step(step, 'LoadImage') for step in pipeline):
        return pipeline
    found = [step for step in pipeline if is_step(step, 'LoadAnnotations')]
    annotations = found[0] if found else dict(type='LoadAnnotations',
                                              with_bbox=True)
    rest = [step for step in pipeline if step is not annotations]
    at = 1 + max(i for i, step in enumerate(rest)
                 if is_step(step, 'LoadImage'))
    return rest[:at] + [annotations] + rest[at:]


def drawing_dataset_cfg(dataset_cfg: dict) -> dict:
    """A copy of the loader's dataset config whose pipelines carry boxes
    through every transform (see :func:`annotations_follow_image`)."""
    dataset_cfg = copy.deepcopy(dataset_cfg)
    node = dataset_cfg
    while node is not None:
        if node.get('pipeline'):
            node['pipeline'] = annotations_follow_image(list(node['pipeline']))
        node = node.get('dataset')
    return dataset_cfg


def innermost(dataset):
    """The dataset under wrappers such as MultiImageMixDataset."""
    while hasattr(dataset, 'dataset'):
        dataset = dataset.dataset
    return dataset


def as_tensor(bboxes) -> torch.Tensor:
    """(n, 4) float tensor from a tensor, BaseBoxes or array."""
    bboxes = getattr(bboxes, 'tensor', bboxes)
    return torch.as_tensor(np.asarray(bboxes, np.float32)).reshape(-1, 4)


def draw_panel(visualizer, image: np.ndarray, bboxes: torch.Tensor,
               labels: torch.Tensor, title: str) -> np.ndarray:
    """RGB image with its boxes drawn, enlarged to MIN_PANEL_HEIGHT when
    smaller, with ``title`` in a band above it."""
    from mmdet.structures import DetDataSample
    scale = max(1.0, MIN_PANEL_HEIGHT / image.shape[0])
    if scale > 1:
        image = cv2.resize(image, None, fx=scale, fy=scale,
                           interpolation=cv2.INTER_NEAREST)
        bboxes = bboxes * scale
    sample = DetDataSample()
    sample.gt_instances = InstanceData(bboxes=bboxes, labels=labels.long())
    visualizer.add_datasample('gt', image, sample, draw_pred=False)
    drawn = visualizer.get_image()
    band = np.full((TITLE_HEIGHT, drawn.shape[1], 3), 255, np.uint8)
    cv2.putText(band, title, (4, TITLE_HEIGHT - 8), cv2.FONT_HERSHEY_SIMPLEX,
                0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([band, drawn], axis=0)


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    height = max(left.shape[0], right.shape[0])

    def pad(img: np.ndarray) -> np.ndarray:
        return cv2.copyMakeBorder(img, 0, height - img.shape[0], 0, 0,
                                  cv2.BORDER_CONSTANT, value=(255, ) * 3)

    gap = np.full((height, GAP, 3), 255, np.uint8)
    return np.concatenate([pad(left), gap, pad(right)], axis=1)


def before_panel(visualizer, data_info: dict) -> np.ndarray:
    """The stored image and its annotated boxes (ignored ones left out)."""
    image = mmcv.imread(data_info['img_path'], channel_order='rgb')
    if image is None:
        raise UserInputError(f'cannot read {data_info["img_path"]}')
    kept = [inst for inst in data_info.get('instances', [])
            if not inst.get('ignore_flag', 0)]
    bboxes = as_tensor([inst['bbox'] for inst in kept])
    labels = torch.tensor([inst['bbox_label'] for inst in kept])
    height, width = image.shape[:2]
    title = f'before: {width}x{height}, boxes: {len(kept)}'
    return draw_panel(visualizer, image, bboxes, labels, title)


def after_panel(visualizer, item: dict, split: str) -> np.ndarray:
    """The packed model input (C x H x W, BGR) and its ground truth."""
    image = item['inputs'].permute(1, 2, 0).numpy()[..., ::-1]
    gt = item['data_samples'].gt_instances
    bboxes, labels = as_tensor(gt.bboxes), torch.as_tensor(gt.labels)
    height, width = image.shape[:2]
    title = (f'after the {split} pipeline: {width}x{height}, '
             f'boxes: {len(labels)}')
    return draw_panel(visualizer, np.ascontiguousarray(image), bboxes, labels,
                      title)


def write_png(image_rgb: np.ndarray, path: str) -> None:
    """Write atomically: a temp file in the same folder, then rename."""
    with atomic_path(path) as tmp:
        if not mmcv.imwrite(np.ascontiguousarray(image_rgb[..., ::-1]),
                            str(tmp)):
            raise OSError(f'could not write {path}')


def browse(cfg: Config, config_path: str, split: str, n: int,
           out_dir: Optional[str]) -> List[str]:
    """Write up to ``n`` before/after PNGs; returns their paths."""
    from mmdet.registry import DATASETS
    from mmdet.visualization import DetLocalVisualizer
    loader = cfg.get(f'{split}_dataloader')
    if not loader or not loader.get('dataset'):
        raise UserInputError(f'the config has no {split}_dataloader dataset')
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    set_random_seed(0)
    dataset = DATASETS.build(drawing_dataset_cfg(loader.dataset))
    source = innermost(dataset)
    visualizer = DetLocalVisualizer(name='csdet_browse_dataset', line_width=2)
    visualizer.dataset_meta = source.metainfo
    if out_dir is None:
        name = osp.splitext(osp.basename(config_path))[0]
        out_dir = osp.join('work_dirs', 'browse', name, split)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    count = min(n, len(dataset))
    for idx in tqdm(range(count), desc=f'drawing {split}', unit='img'):
        data_info = source.get_data_info(idx)
        stem = osp.splitext(osp.basename(data_info['img_path']))[0]
        path = osp.join(out_dir, f'{idx:04d}_{stem}.png')
        try:
            before = before_panel(visualizer, data_info)
            after = after_panel(visualizer, dataset[idx], split)
        except Exception as error:  # one bad file must not hide the others
            tqdm.write(f'warning: skipped {data_info["img_path"]}: {error} '
                       '(run with --check for a report of every bad file)',
                       file=sys.stderr)
            continue
        write_png(side_by_side(before, after), path)
        written.append(path)
    print(f'Wrote {len(written)} of {count} images to {out_dir}')
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config, args.cfg_options)
        if args.check:
            return run_check(cfg, args.split)
        browse(cfg, args.config, args.split, args.n, args.out_dir)
    except UserInputError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
