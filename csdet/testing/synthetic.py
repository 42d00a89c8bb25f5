"""Synthetic defect images in COCO format, for fast tests ONLY.

These pictures (a grey texture with a few drawn marks) are not NEU-DET and
not a stand-in for it: no reported number may come from them. They let unit
and smoke tests build datasets, run pipelines and train for a few iterations
in seconds, without the real data.

Layout written (the same as tools/dataset_converters/neu_det.py)::

    <out>/images/synthetic_0000.png ...     lossless PNG, H x W x 3, grey
    <out>/annotations/train.json, test.json

Each class gets a shape (by its position in ``classes``, cycling for more
than six): crazing -> a network of thin cracks, inclusion -> a thin dark
ellipse, patches -> a blob of overlapping discs, pitted_surface -> a cluster
of dots, rolled-in_scale -> scattered flakes, scratches -> a bright straight
line. Marks are darker (<= 60) or brighter (>= 200) than the background
(90..170) and never overlap, and each box is the exact pixel extent of its
mark: COCO ``[x, y, w, h]`` with ``x = leftmost column`` and
``w = rightmost - leftmost + 1``.

make_synthetic_yolo and make_synthetic_voc write the same images in the
Ultralytics YOLO-txt and Pascal VOC layouts (for the converters' tests).

Command line: ``python -m csdet.testing.synthetic --out work_dirs/synth``.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from csdet.datasets.neu_det import NEU_DET_CLASSES

BACKGROUND_RANGE = (90, 170)  # marks are outside this range, see _INTENSITY


@dataclass
class SyntheticImage:
    """One rendered image: ``image`` H x W x 3 uint8, its bare ``background``
    (H x W uint8), ``labels`` (N,) int and ``bboxes`` (N, 4) COCO
    ``[x, y, w, h]`` float."""
    image: np.ndarray
    background: np.ndarray
    labels: np.ndarray
    bboxes: np.ndarray


# ---- shape drawers: each draws one mark into a blank (h, w) uint8 mask ----
def _draw_cracks(mask: np.ndarray, rng: np.random.Generator) -> None:
    height, width = mask.shape
    for _ in range(rng.integers(2, 5)):
        points = np.stack([rng.integers(0, width, 4),
                           rng.integers(0, height, 4)], axis=1)
        cv2.polylines(mask, [points.astype(np.int32)], False, 1, 1)


def _draw_inclusion(mask: np.ndarray, rng: np.random.Generator) -> None:
    height, width = mask.shape
    axes = (max(width // 2 - 1, 1), max(int(height * rng.uniform(0.1, 0.25)),
                                        1))
    cv2.ellipse(mask, (width // 2, height // 2), axes, 0, 0, 360, 1, -1)


def _draw_patch(mask: np.ndarray, rng: np.random.Generator) -> None:
    height, width = mask.shape
    radius = max(min(height, width) // 4, 1)
    for _ in range(rng.integers(3, 6)):
        centre = (int(rng.integers(radius, max(width - radius, radius + 1))),
                  int(rng.integers(radius, max(height - radius, radius + 1))))
        cv2.circle(mask, centre, radius, 1, -1)


def _draw_pits(mask: np.ndarray, rng: np.random.Generator) -> None:
    height, width = mask.shape
    for _ in range(rng.integers(4, 10)):
        centre = (int(rng.integers(1, max(width - 1, 2))),
                  int(rng.integers(1, max(height - 1, 2))))
        cv2.circle(mask, centre, int(rng.integers(1, 3)), 1, -1)


def _draw_flakes(mask: np.ndarray, rng: np.random.Generator) -> None:
    height, width = mask.shape
    for _ in range(rng.integers(3, 7)):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size_x, size_y = int(rng.integers(2, 6)), int(rng.integers(1, 4))
        cv2.rectangle(mask, (x, y), (x + size_x, y + size_y), 1, -1)


def _draw_scratch(mask: np.ndarray, rng: np.random.Generator) -> None:
    height, width = mask.shape
    if rng.random() < 0.5:  # falling or rising diagonal across the patch
        start, end = (0, 0), (width - 1, height - 1)
    else:
        start, end = (0, height - 1), (width - 1, 0)
    cv2.line(mask, start, end, 1, int(rng.integers(1, 3)))


_DRAWERS: Tuple[Callable[[np.ndarray, np.random.Generator], None], ...] = (
    _draw_cracks, _draw_inclusion, _draw_patch, _draw_pits, _draw_flakes,
    _draw_scratch)
# Grey level of each shape's mark: dark except the bright scratch.
_INTENSITY = (40, 30, 55, 20, 60, 220)


def _background(rng: np.random.Generator, height: int,
                width: int) -> np.ndarray:
    """Rolled-steel-like texture: smooth shading plus fine grain."""
    low, high = BACKGROUND_RANGE
    coarse = rng.normal(0.0, 1.0, (max(height // 16, 2), max(width // 16, 2)))
    shading = cv2.resize(coarse, (width, height),
                         interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0.0, 0.5, (height, width))
    texture = (low + high) / 2 + 18 * shading + 6 * grain
    return np.clip(np.rint(texture), low, high).astype(np.uint8)


def _overlaps(box: Tuple[int, int, int, int],
              others: Sequence[Tuple[int, int, int, int]],
              margin: int = 2) -> bool:
    x1, y1, x2, y2 = box
    return any(x1 < ox2 + margin and ox1 < x2 + margin and
               y1 < oy2 + margin and oy1 < y2 + margin
               for ox1, oy1, ox2, oy2 in others)


def _size_pair(image_size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """``image_size`` as (height, width); an int means a square."""
    if isinstance(image_size, int):
        return image_size, image_size
    height, width = image_size
    return int(height), int(width)


def render_synthetic_image(seed: int,
                           index: int,
                           image_size: Union[int, Sequence[int]] = 96,
                           num_classes: int = len(NEU_DET_CLASSES),
                           max_objects: int = 3) -> SyntheticImage:
    """Render image ``index`` of the set ``seed`` (deterministic).

    Each image has its own RNG (seed, index), so an image does not change
    when ``num_images`` does. Marks get non-overlapping random regions
    (10-40 % of the image side); a box is the pixel extent of its mark.
    """
    height, width = _size_pair(image_size)
    if min(height, width) < 24:
        raise ValueError(f'image_size must be at least 24 px, got '
                         f'{image_size}')
    rng = np.random.default_rng([seed, index])
    background = _background(rng, height, width)
    canvas = background.copy()
    regions: List[Tuple[int, int, int, int]] = []
    labels, bboxes = [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(50):
            region_w = int(rng.integers(width // 10, width * 2 // 5)) + 4
            region_h = int(rng.integers(height // 10, height * 2 // 5)) + 4
            x1 = int(rng.integers(0, width - region_w + 1))
            y1 = int(rng.integers(0, height - region_h + 1))
            region = (x1, y1, x1 + region_w, y1 + region_h)
            if not _overlaps(region, regions):
                break
        else:
            continue  # image is full: fewer marks
        label = int(rng.integers(num_classes))
        mask = np.zeros((region_h, region_w), np.uint8)
        _DRAWERS[label % len(_DRAWERS)](mask, rng)
        rows, cols = np.nonzero(mask)
        if rows.size == 0:
            continue
        regions.append(region)
        canvas[y1:y1 + region_h, x1:x1 + region_w][mask > 0] = _INTENSITY[
            label % len(_INTENSITY)]
        left, top = x1 + int(cols.min()), y1 + int(rows.min())
        bboxes.append([left, top, int(cols.max()) - int(cols.min()) + 1,
                       int(rows.max()) - int(rows.min()) + 1])
        labels.append(label)
    return SyntheticImage(
        image=np.repeat(canvas[:, :, None], 3, axis=2),
        background=background,
        labels=np.asarray(labels, np.int64),
        bboxes=np.asarray(bboxes, np.float32).reshape(-1, 4))


def make_synthetic_coco(out_dir: Union[str, Path],
                        num_images: int = 8,
                        image_size: Union[int, Sequence[int]] = 96,
                        classes: Sequence[str] = NEU_DET_CLASSES,
                        seed: int = 0,
                        max_objects: int = 3,
                        test_fraction: float = 0.25) -> Dict[str, Path]:
    """Write a small synthetic COCO detection set (tests only).

    The last ``round(num_images * test_fraction)`` images (at least one when
    ``num_images >= 2``) form the test split. Category ids are 1-based in
    ``classes`` order. Returns the paths: ``root``, ``images``, ``train``
    and ``test`` (annotation files).
    """
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    classes = tuple(classes)
    out_dir = Path(out_dir)
    image_dir = out_dir / 'images'
    image_dir.mkdir(parents=True, exist_ok=True)
    num_test = min(max(round(num_images * test_fraction),
                       1 if num_images >= 2 else 0), num_images - 1)
    splits = {'train': dict(images=[], annotations=[]),
              'test': dict(images=[], annotations=[])}
    annotation_id = 1
    for index in range(num_images):
        sample = render_synthetic_image(seed, index, image_size,
                                        len(classes), max_objects)
        file_name = f'synthetic_{index:04d}.png'
        cv2.imwrite(str(image_dir / file_name), sample.image)
        split = splits['test' if index >= num_images - num_test else 'train']
        height, width = sample.background.shape
        split['images'].append(dict(id=index + 1, file_name=file_name,
                                    width=width, height=height))
        for label, bbox in zip(sample.labels, sample.bboxes):
            box = [int(v) for v in bbox]
            split['annotations'].append(dict(
                id=annotation_id, image_id=index + 1,
                category_id=int(label) + 1, bbox=box, area=box[2] * box[3],
                iscrowd=0))
            annotation_id += 1
    categories = [dict(id=i, name=name, supercategory='defect')
                  for i, name in enumerate(classes, start=1)]
    paths = dict(root=out_dir, images=image_dir)
    for name, split in splits.items():
        path = out_dir / 'annotations' / f'{name}.json'
        path.parent.mkdir(parents=True, exist_ok=True)
        info = dict(description='csdet synthetic defect images (tests only, '
                    'not NEU-DET)', seed=seed, split=name)
        path.write_text(json.dumps(dict(info=info, licenses=[],
                                        categories=categories, **split)))
        paths[name] = path
    return paths



def _held_out_count(num_images: int, fraction: float) -> int:
    """Images in the held-out split (the last ones), as make_synthetic_coco
    counts its test split."""
    return min(max(round(num_images * fraction), 1 if num_images >= 2 else 0),
               num_images - 1)


def make_synthetic_yolo(out_dir: Union[str, Path],
                        num_images: int = 8,
                        image_size: Union[int, Sequence[int]] = 96,
                        classes: Sequence[str] = NEU_DET_CLASSES,
                        seed: int = 0,
                        max_objects: int = 3,
                        val_fraction: float = 0.25) -> Path:
    """Write the images of make_synthetic_coco (same arguments, same file
    names; its test images form ``val``) in Ultralytics layout; tests only.

    Layout: ``images/{train,val}/synthetic_NNNN.png``,
    ``labels/{train,val}/synthetic_NNNN.txt`` (``class cx cy w h``,
    normalised) and ``data.yaml`` (``path: .``, ``names`` as a list).
    Returns the path of data.yaml.
    """
    import yaml  # only this writer needs it
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    out_dir = Path(out_dir)
    num_val = _held_out_count(num_images, val_fraction)
    for index in range(num_images):
        split = 'val' if index >= num_images - num_val else 'train'
        sample = render_synthetic_image(seed, index, image_size,
                                        len(classes), max_objects)
        height, width = sample.background.shape
        stem = f'synthetic_{index:04d}'
        for folder in ('images', 'labels'):
            (out_dir / folder / split).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out_dir / 'images' / split / f'{stem}.png'),
                    sample.image)
        lines = [f'{int(label)} {(x + w / 2) / width:.6f} '
                 f'{(y + h / 2) / height:.6f} {w / width:.6f} '
                 f'{h / height:.6f}\n'
                 for label, (x, y, w, h) in zip(sample.labels,
                                                sample.bboxes.tolist())]
        (out_dir / 'labels' / split / f'{stem}.txt').write_text(
            ''.join(lines))
    data_yaml = out_dir / 'data.yaml'
    data_yaml.write_text(yaml.safe_dump(dict(
        path='.', train='images/train', val='images/val',
        names=list(classes)), sort_keys=False))
    return data_yaml


def make_synthetic_voc(out_dir: Union[str, Path],
                       num_images: int = 8,
                       image_size: Union[int, Sequence[int]] = 96,
                       classes: Sequence[str] = NEU_DET_CLASSES,
                       seed: int = 0,
                       max_objects: int = 3,
                       test_fraction: float = 0.25,
                       image_sets: bool = False) -> Path:
    """Write the images of make_synthetic_coco (same arguments, same file
    names) as Pascal VOC; tests only.

    Layout: ``JPEGImages/synthetic_NNNN.png`` and ``Annotations/*.xml``
    (1-based inclusive corners: ``xmin = x + 1``, ``xmax = x + w``); with
    ``image_sets``, ``ImageSets/Main/{train,test}.txt`` holding
    make_synthetic_coco's split. Returns ``out_dir``.
    """
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    out_dir = Path(out_dir)
    for folder in ('JPEGImages', 'Annotations'):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    num_test = _held_out_count(num_images, test_fraction)
    stems: Dict[str, List[str]] = dict(train=[], test=[])
    for index in range(num_images):
        sample = render_synthetic_image(seed, index, image_size,
                                        len(classes), max_objects)
        height, width = sample.background.shape
        stem = f'synthetic_{index:04d}'
        stems['test' if index >= num_images - num_test else 'train'].append(
            stem)
        cv2.imwrite(str(out_dir / 'JPEGImages' / f'{stem}.png'), sample.image)
        objects = ''.join(
            f'<object><name>{classes[int(label)]}</name><difficult>0'
            f'</difficult><bndbox><xmin>{x + 1}</xmin><ymin>{y + 1}</ymin>'
            f'<xmax>{x + w}</xmax><ymax>{y + h}</ymax></bndbox></object>'
            for label, (x, y, w, h) in zip(
                sample.labels, sample.bboxes.astype(int).tolist()))
        (out_dir / 'Annotations' / f'{stem}.xml').write_text(
            f'<annotation><filename>{stem}.png</filename><size><width>'
            f'{width}</width><height>{height}</height><depth>3</depth>'
            f'</size>{objects}</annotation>\n')
    if image_sets:
        main = out_dir / 'ImageSets' / 'Main'
        main.mkdir(parents=True, exist_ok=True)
        for split, names in stems.items():
            (main / f'{split}.txt').write_text(
                ''.join(f'{name}\n' for name in names))
    return out_dir

def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description='Write a synthetic defect COCO set (for tests only).')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--num-images', type=int, default=8)
    parser.add_argument('--image-size', type=int, nargs='+', default=[96],
                        help='side, or height width (default: 96)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--max-objects', type=int, default=3)
    parser.add_argument('--classes', nargs='+', default=list(NEU_DET_CLASSES))
    args = parser.parse_args(argv)
    size = args.image_size[0] if len(args.image_size) == 1 else tuple(
        args.image_size[:2])
    paths = make_synthetic_coco(args.out, args.num_images, size, args.classes,
                                args.seed, args.max_objects)
    print(f'Wrote {args.num_images} synthetic images to {paths["root"]} '
          f'({paths["train"]}, {paths["test"]}).')


if __name__ == '__main__':
    main()
