"""YOLOv5 (Ultralytics v7.0) data augmentation as MMDetection transforms.

Spec: docs/yolov5.md, "Training recipe". MMDetection's closest transforms
are not the reference: ``Mosaic`` floors the tile size and never shuffles the
tiles, ``RandomAffine`` draws its own parameters around another origin, and
``YOLOXHSVRandomAug`` adds HSV offsets where YOLOv5 multiplies. These are
written from the reference's ``load_mosaic``, ``random_perspective``,
``box_candidates``, ``augment_hsv`` and ``letterbox``.

Randomness comes from Python's ``random`` and NumPy's global generator, as in
the reference and in mmdet's transforms; mmengine seeds both per worker.

Results keys used (mmdet 3.x conventions): ``img`` (H, W, 3) uint8 BGR,
``img_shape`` (h, w), ``gt_bboxes`` (a ``BaseBoxes`` such as
``HorizontalBoxes`` or an (n, 4) array, xyxy pixels), ``gt_bboxes_labels``
(n,), ``gt_ignore_flags`` (n,), ``scale_factor`` (w_scale, h_scale).
"""
from __future__ import annotations

import math
import random
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import BaseBoxes, HorizontalBoxes

# Per-instance fields that must be filtered together with the boxes.
_INSTANCE_KEYS = ('gt_bboxes_labels', 'gt_ignore_flags')


# ---------------------------------------------------------------- box helpers
# Mosaic and RandomPerspective do their box arithmetic on float64 NumPy
# arrays, as the reference does: HorizontalBoxes' rescale_/translate_/clip_
# cost several times more per sample on such small arrays (measured).
def _boxes_as_array(boxes) -> np.ndarray:
    """``BaseBoxes`` / tensor / array -> float64 (n, 4) xyxy array."""
    if isinstance(boxes, BaseBoxes):
        boxes = boxes.numpy()
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def _array_as_boxes(array: np.ndarray, like):
    """Return ``array`` in the container type of ``like`` (box type kept)."""
    array = np.asarray(array, dtype=np.float32).reshape(-1, 4)
    if isinstance(like, BaseBoxes):
        return type(like)(array)
    return array


def _filter_instances(results: dict, keep: np.ndarray) -> None:
    """Apply the boolean mask ``keep`` to every per-instance field."""
    for key in _INSTANCE_KEYS:
        if key in results:
            results[key] = np.asarray(results[key])[keep]


def box_candidates(boxes_before: np.ndarray,
                   boxes_after: np.ndarray,
                   wh_thr: float = 2.0,
                   ar_thr: float = 100.0,
                   area_thr: float = 0.1,
                   eps: float = 1e-16) -> np.ndarray:
    """Ultralytics ``box_candidates``: which boxes survive an augmentation.

    A box is kept when, after augmentation, width and height > ``wh_thr``
    pixels, its area is > ``area_thr`` x the area before (``boxes_before``
    already multiplied by the augmentation's scale, so only the part cut off
    by the image border counts), and max(w/h, h/w) < ``ar_thr``.

    Args:
        boxes_before (np.ndarray): (n, 4) xyxy boxes before, times the scale.
        boxes_after (np.ndarray): (n, 4) xyxy boxes after (clipped).

    Returns:
        np.ndarray: (n,) bool mask.
    """
    w1 = boxes_before[:, 2] - boxes_before[:, 0]
    h1 = boxes_before[:, 3] - boxes_before[:, 1]
    w2 = boxes_after[:, 2] - boxes_after[:, 0]
    h2 = boxes_after[:, 3] - boxes_after[:, 1]
    aspect = np.maximum(w2 / (h2 + eps), h2 / (w2 + eps))
    return ((w2 > wh_thr) & (h2 > wh_thr) &
            (w2 * h2 / (w1 * h1 + eps) > area_thr) & (aspect < ar_thr))


def _resize_long_side(img: np.ndarray, target: int,
                      interpolation: int) -> Tuple[np.ndarray, float, float]:
    """Reference ``load_image``: long side -> ``target``, sizes rounded up.

    Returns the image and the per-axis scale (new_w / w0, new_h / h0).
    """
    h0, w0 = img.shape[:2]
    ratio = target / max(h0, w0)
    if ratio != 1:
        size = (math.ceil(w0 * ratio), math.ceil(h0 * ratio))
        img = cv2.resize(img, size, interpolation=interpolation)
    h, w = img.shape[:2]
    return img, w / w0, h / h0


# --------------------------------------------------------------------- Mosaic
@TRANSFORMS.register_module()
class YOLOv5Mosaic(BaseTransform):
    """Reference ``load_mosaic``: four images on a 2s x 2s canvas.

    The current sample and three random ones (drawn with replacement by
    :meth:`get_indexes`, which mmdet's ``MultiImageMixDataset`` calls) are
    shuffled, each is resized so that its long side is ``s`` (bilinear,
    sizes rounded up), and they are pasted around a centre (xc, yc) drawn
    uniformly from [s//2, 2s - s//2] as top-left, top-right, bottom-left,
    bottom-right tiles on a canvas filled with ``pad_val``. Boxes are scaled
    and shifted with their tile and clipped to the canvas; boxes left with
    zero width or height are dropped (the reference drops them later in
    ``box_candidates``, with the same result). Follow it with
    :class:`YOLOv5RandomPerspective` with ``border=(-s // 2, -s // 2)`` to
    get an s x s image.

    Args:
        img_scale (int): s, the training image size.
        pad_val (float): canvas fill (114, the reference's grey).
        prob (float): probability of applying the mosaic (hyp ``mosaic``,
            1.0). When skipped the sample passes unchanged.

    Output: ``img`` (2s, 2s, C), ``img_shape`` (2s, 2s) and the merged
    ``gt_bboxes`` / ``gt_bboxes_labels`` / ``gt_ignore_flags``.
    """

    def __init__(self,
                 img_scale: int = 640,
                 pad_val: float = 114.0,
                 prob: float = 1.0) -> None:
        if isinstance(img_scale, (tuple, list)):
            if len(set(img_scale)) != 1:
                raise ValueError(
                    'YOLOv5Mosaic: img_scale must be one int (square '
                    f'training size), got {img_scale}')
            img_scale = img_scale[0]
        if int(img_scale) <= 0:
            raise ValueError(f'YOLOv5Mosaic: img_scale={img_scale} must be > 0')
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'YOLOv5Mosaic: prob={prob} must be in [0, 1]')
        self.img_scale = int(img_scale)
        self.pad_val = pad_val
        self.prob = prob

    def get_indexes(self, dataset) -> List[int]:
        """Three random indices, with replacement (``random.choices``)."""
        return random.choices(range(len(dataset)), k=3)

    def _tile_coords(self, position: int, centre: Tuple[int, int],
                     size: Tuple[int, int]) -> Tuple[tuple, tuple]:
        """(canvas x1, y1, x2, y2), (tile x1, y1, x2, y2) of one tile."""
        xc, yc = centre
        w, h = size
        s2 = 2 * self.img_scale
        if position == 0:  # top left
            canvas = (max(xc - w, 0), max(yc - h, 0), xc, yc)
            tile = (w - (canvas[2] - canvas[0]), h - (canvas[3] - canvas[1]),
                    w, h)
        elif position == 1:  # top right
            canvas = (xc, max(yc - h, 0), min(xc + w, s2), yc)
            tile = (0, h - (canvas[3] - canvas[1]),
                    min(w, canvas[2] - canvas[0]), h)
        elif position == 2:  # bottom left
            canvas = (max(xc - w, 0), yc, xc, min(s2, yc + h))
            tile = (w - (canvas[2] - canvas[0]), 0, w,
                    min(canvas[3] - canvas[1], h))
        else:  # bottom right
            canvas = (xc, yc, min(xc + w, s2), min(s2, yc + h))
            tile = (0, 0, min(w, canvas[2] - canvas[0]),
                    min(canvas[3] - canvas[1], h))
        return canvas, tile

    def transform(self, results: dict) -> dict:
        if random.random() >= self.prob:
            return results
        if 'mix_results' not in results or len(results['mix_results']) != 3:
            raise KeyError(
                'YOLOv5Mosaic needs results["mix_results"] with 3 samples: '
                'put it in the pipeline of mmdet\'s MultiImageMixDataset '
                '(which calls get_indexes), not in the dataset pipeline')
        s = self.img_scale
        # Reference: uniform(-border, 2s + border) with border = -(s // 2).
        xc, yc = (int(random.uniform(s // 2, 2 * s - s // 2))
                  for _ in range(2))
        samples = [results] + list(results['mix_results'])
        random.shuffle(samples)

        first_img = samples[0]['img']
        channels = first_img.shape[2:]  # () for grey images
        canvas = np.full((2 * s, 2 * s) + channels, self.pad_val,
                         dtype=first_img.dtype)
        all_boxes, extras = [], {key: [] for key in _INSTANCE_KEYS}
        box_like = results.get('gt_bboxes')
        for position, sample in enumerate(samples):
            img, scale_w, scale_h = _resize_long_side(sample['img'], s,
                                                      cv2.INTER_LINEAR)
            h, w = img.shape[:2]
            (x1a, y1a, x2a, y2a), (x1b, y1b, x2b, y2b) = self._tile_coords(
                position, (xc, yc), (w, h))
            canvas[y1a:y2a, x1a:x2a] = img[y1b:y2b, x1b:x2b]
            boxes = _boxes_as_array(sample.get('gt_bboxes', np.zeros((0, 4))))
            boxes = boxes * [scale_w, scale_h, scale_w, scale_h]
            boxes += [x1a - x1b, y1a - y1b, x1a - x1b, y1a - y1b]
            all_boxes.append(boxes)
            num = len(boxes)
            extras['gt_bboxes_labels'].append(
                np.asarray(sample.get('gt_bboxes_labels',
                                      np.zeros(num, np.int64))))
            extras['gt_ignore_flags'].append(
                np.asarray(sample.get('gt_ignore_flags',
                                      np.zeros(num, bool))))

        boxes = np.concatenate(all_boxes, 0).clip(0, 2 * s)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        results['img'] = canvas
        results['img_shape'] = canvas.shape[:2]
        results['gt_bboxes'] = _array_as_boxes(boxes[keep], box_like)
        for key, values in extras.items():
            results[key] = np.concatenate(values, 0)[keep]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(img_scale={self.img_scale}, '
                f'pad_val={self.pad_val}, prob={self.prob})')


# --------------------------------------------------------- RandomPerspective
@TRANSFORMS.register_module()
class YOLOv5RandomPerspective(BaseTransform):
    """Reference ``random_perspective`` (centred affine/perspective warp).

    M = T @ S @ R @ P @ C with C moving the image centre to the origin,
    P the perspective terms U(-perspective, perspective), R a rotation
    U(-degrees, degrees) with scale U(1 - scale, 1 + scale), S shears
    tan(U(-shear, shear) deg), T a translation to
    U(0.5 - translate, 0.5 + translate) x output size. The output is
    (H + 2 border_h) x (W + 2 border_w), filled with ``pad_val``; after
    :class:`YOLOv5Mosaic` use ``border=(-s // 2, -s // 2)`` for s x s.

    Boxes: the four corners are transformed, the enclosing box is clipped to
    the output, and boxes failing :func:`box_candidates` (w, h > 2 px,
    area > 0.1 x the scaled original, aspect < 100) are removed with their
    labels and ignore flags.

    Args:
        degrees (float): rotation range in degrees (hyp 0.0).
        translate (float): translation fraction (hyp 0.1).
        scale (float): scale gain range (hyp 0.5, i.e. U(0.5, 1.5)).
        shear (float): shear range in degrees (hyp 0.0).
        perspective (float): perspective range (hyp 0.0).
        border (tuple[int, int]): (border_h, border_w), added on each side
            (negative crops).
        pad_val (float): fill of uncovered pixels (114).
        min_bbox_size (float): ``wh_thr`` of :func:`box_candidates` (2).
        min_area_ratio (float): ``area_thr`` (0.1).
        max_aspect_ratio (float): ``ar_thr`` (100).
    """

    def __init__(self,
                 degrees: float = 0.0,
                 translate: float = 0.1,
                 scale: float = 0.5,
                 shear: float = 0.0,
                 perspective: float = 0.0,
                 border: Sequence[int] = (0, 0),
                 pad_val: float = 114.0,
                 min_bbox_size: float = 2.0,
                 min_area_ratio: float = 0.1,
                 max_aspect_ratio: float = 100.0) -> None:
        if not 0.0 <= translate <= 0.5:
            raise ValueError(f'YOLOv5RandomPerspective: translate={translate} '
                             'must be in [0, 0.5]')
        if not 0.0 <= scale < 1.0:
            raise ValueError(f'YOLOv5RandomPerspective: scale={scale} must be '
                             'in [0, 1) (the gain is U(1 - scale, 1 + scale))')
        if len(border) != 2:
            raise ValueError('YOLOv5RandomPerspective: border must be '
                             f'(border_h, border_w), got {border}')
        self.degrees = degrees
        self.translate = translate
        self.scale = scale
        self.shear = shear
        self.perspective = perspective
        self.border = tuple(int(b) for b in border)
        self.pad_val = pad_val
        self.min_bbox_size = min_bbox_size
        self.min_area_ratio = min_area_ratio
        self.max_aspect_ratio = max_aspect_ratio

    def sample_matrix(self, img_shape: Tuple[int, int],
                      out_shape: Tuple[int, int]) -> Tuple[np.ndarray, float]:
        """Draw M (3 x 3) and the scale gain, in the reference's order."""
        height, width = img_shape
        out_h, out_w = out_shape
        centre = np.eye(3)
        centre[0, 2] = -width / 2
        centre[1, 2] = -height / 2
        persp = np.eye(3)
        persp[2, 0] = random.uniform(-self.perspective, self.perspective)
        persp[2, 1] = random.uniform(-self.perspective, self.perspective)
        rotate = np.eye(3)
        angle = random.uniform(-self.degrees, self.degrees)
        gain = random.uniform(1 - self.scale, 1 + self.scale)
        rotate[:2] = cv2.getRotationMatrix2D(angle=angle, center=(0, 0),
                                             scale=gain)
        shear = np.eye(3)
        shear[0, 1] = math.tan(
            random.uniform(-self.shear, self.shear) * math.pi / 180)
        shear[1, 0] = math.tan(
            random.uniform(-self.shear, self.shear) * math.pi / 180)
        translate = np.eye(3)
        translate[0, 2] = random.uniform(0.5 - self.translate,
                                         0.5 + self.translate) * out_w
        translate[1, 2] = random.uniform(0.5 - self.translate,
                                         0.5 + self.translate) * out_h
        return translate @ shear @ rotate @ persp @ centre, gain

    def warp_boxes(self, boxes: np.ndarray, matrix: np.ndarray,
                   out_shape: Tuple[int, int]) -> np.ndarray:
        """Transform corners, take the enclosing box, clip to the output."""
        num = len(boxes)
        if num == 0:
            return boxes.reshape(0, 4)
        corners = np.ones((num * 4, 3))
        # x1y1, x2y2, x1y2, x2y1
        corners[:, :2] = boxes[:, [0, 1, 2, 3, 0, 3, 2, 1]].reshape(num * 4, 2)
        corners = corners @ matrix.T
        if self.perspective:
            corners = corners[:, :2] / corners[:, 2:3]
        corners = corners[:, :2].reshape(num, 8)
        xs, ys = corners[:, [0, 2, 4, 6]], corners[:, [1, 3, 5, 7]]
        out_h, out_w = out_shape
        warped = np.stack((xs.min(1), ys.min(1), xs.max(1), ys.max(1)), 1)
        warped[:, [0, 2]] = warped[:, [0, 2]].clip(0, out_w)
        warped[:, [1, 3]] = warped[:, [1, 3]].clip(0, out_h)
        return warped

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        out_h = height + 2 * self.border[0]
        out_w = width + 2 * self.border[1]
        if out_h <= 0 or out_w <= 0:
            raise ValueError(
                f'YOLOv5RandomPerspective: border={self.border} leaves no '
                f'image from a {height}x{width} input')
        matrix, gain = self.sample_matrix((height, width), (out_h, out_w))
        if self.border != (0, 0) or (matrix != np.eye(3)).any():
            fill = (self.pad_val, ) * 3
            if self.perspective:
                img = cv2.warpPerspective(img, matrix, dsize=(out_w, out_h),
                                          borderValue=fill)
            else:
                img = cv2.warpAffine(img, matrix[:2], dsize=(out_w, out_h),
                                     borderValue=fill)
        results['img'] = img
        results['img_shape'] = img.shape[:2]

        if 'gt_bboxes' in results:
            boxes = _boxes_as_array(results['gt_bboxes'])
            warped = self.warp_boxes(boxes, matrix, (out_h, out_w))
            keep = box_candidates(boxes * gain, warped, self.min_bbox_size,
                                  self.max_aspect_ratio, self.min_area_ratio)
            results['gt_bboxes'] = _array_as_boxes(warped[keep],
                                                   results['gt_bboxes'])
            _filter_instances(results, keep)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(degrees={self.degrees}, '
                f'translate={self.translate}, scale={self.scale}, '
                f'shear={self.shear}, perspective={self.perspective}, '
                f'border={self.border})')


# ------------------------------------------------------------------------ HSV
def hsv_lookup_tables(gains: Sequence[float]
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reference's uint8 LUTs for multiplicative HSV gains r (3,).

    hue' = (x * r_h) mod 180, sat' = clip(x * r_s, 0, 255),
    val' = clip(x * r_v, 0, 255), truncated to uint8 (OpenCV hue is 0..179).
    """
    gains = np.asarray(gains, dtype=np.float64)
    x = np.arange(0, 256, dtype=np.float64)
    lut_hue = ((x * gains[0]) % 180).astype(np.uint8)
    lut_sat = np.clip(x * gains[1], 0, 255).astype(np.uint8)
    lut_val = np.clip(x * gains[2], 0, 255).astype(np.uint8)
    return lut_hue, lut_sat, lut_val


@TRANSFORMS.register_module()
class YOLOv5HSVRandomAug(BaseTransform):
    """Reference ``augment_hsv``: random multiplicative HSV gains via LUTs.

    r = U(-1, 1, 3) * (hue_gain, saturation_gain, value_gain) + 1, then the
    BGR image goes to OpenCV HSV, each channel through
    :func:`hsv_lookup_tables`, and back. A grey image (saturation 0) stays
    grey; only its brightness is scaled. (mmdet's ``YOLOXHSVRandomAug`` adds
    offsets instead.)

    Args:
        hue_gain (float): hyp ``hsv_h`` (0.015).
        saturation_gain (float): hyp ``hsv_s`` (0.7).
        value_gain (float): hyp ``hsv_v`` (0.4).

    Input/output: ``img`` (H, W, 3) uint8 BGR.
    """

    def __init__(self,
                 hue_gain: float = 0.015,
                 saturation_gain: float = 0.7,
                 value_gain: float = 0.4) -> None:
        self.gains = np.array([hue_gain, saturation_gain, value_gain],
                              dtype=np.float64)

    def transform(self, results: dict) -> dict:
        if not self.gains.any():
            return results
        img = results['img']
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise TypeError('YOLOv5HSVRandomAug needs a uint8 (H, W, 3) BGR '
                            f'image, got {img.dtype} {img.shape}')
        gains = np.random.uniform(-1, 1, 3) * self.gains + 1
        lut_hue, lut_sat, lut_val = hsv_lookup_tables(gains)
        hue, sat, val = cv2.split(cv2.cvtColor(img, cv2.COLOR_BGR2HSV))
        img_hsv = cv2.merge((cv2.LUT(hue, lut_hue), cv2.LUT(sat, lut_sat),
                             cv2.LUT(val, lut_val)))
        results['img'] = cv2.cvtColor(img_hsv, cv2.COLOR_HSV2BGR)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(gains={self.gains.tolist()})'


# ------------------------------------------------------------------ LetterBox
_INTERPOLATIONS = dict(
    bilinear=cv2.INTER_LINEAR, area=cv2.INTER_AREA, nearest=cv2.INTER_NEAREST)


@TRANSFORMS.register_module()
class LetterBox(BaseTransform):
    """Reference ``load_image`` + ``letterbox``: keep-ratio resize and pad.

    Resizes so the image fits ``scale`` with its aspect ratio kept (never
    above 1 unless ``allow_scale_up``), then pads with ``pad_val`` on both
    sides to ``scale`` (``pad_to='full'``) or to
    ``ceil(new / size_divisor + extra_pad_ratio) * size_divisor`` per side
    (``pad_to='stride'``). Stores ``scale_factor`` (new_w / w, new_h / h)
    and ``pad_param`` float32 [top, bottom, left, right] for the head's
    ``rescale`` (add ``'pad_param'`` to ``PackDetInputs.meta_keys``);
    ``gt_bboxes`` are scaled and shifted the same way. Rounding and the
    reference settings: docs/yolov5.md, "Validation images".

    Args:
        scale (int | tuple[int, int]): target size, int or (w, h).
        pad_to (str): ``'full'`` or ``'stride'`` (see above).
        size_divisor (int): stride for ``pad_to='stride'`` (32).
        extra_pad_ratio (float): see ``pad_to='stride'``.
        allow_scale_up (bool): allow ratio > 1.
        pad_val (float): fill (114).
        interpolation (str): ``'auto'`` (area when shrinking, bilinear when
            enlarging), ``'bilinear'``, ``'area'`` or ``'nearest'``.
    """

    def __init__(self,
                 scale: Union[int, Tuple[int, int]] = 640,
                 pad_to: str = 'full',
                 size_divisor: int = 32,
                 extra_pad_ratio: float = 0.0,
                 allow_scale_up: bool = True,
                 pad_val: float = 114.0,
                 interpolation: str = 'auto') -> None:
        if isinstance(scale, int):
            scale = (scale, scale)
        if len(scale) != 2 or min(scale) <= 0:
            raise ValueError(f'LetterBox: scale={scale} must be an int or '
                             '(w, h) > 0')
        if pad_to not in ('full', 'stride'):
            raise ValueError(f"LetterBox: pad_to={pad_to!r} must be 'full' or "
                             "'stride'")
        if interpolation != 'auto' and interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f'LetterBox: interpolation={interpolation!r} must be auto or '
                f'one of {sorted(_INTERPOLATIONS)}')
        self.scale = (int(scale[0]), int(scale[1]))
        self.pad_to = pad_to
        self.size_divisor = int(size_divisor)
        self.extra_pad_ratio = float(extra_pad_ratio)
        self.allow_scale_up = allow_scale_up
        self.pad_val = pad_val
        self.interpolation = interpolation

    def _resized_size(self, height: int, width: int) -> Tuple[int, int, float]:
        scale_w, scale_h = self.scale
        ratio = min(scale_h / height, scale_w / width)
        if not self.allow_scale_up:
            ratio = min(ratio, 1.0)
        new_w = min(math.ceil(width * ratio), scale_w)
        new_h = min(math.ceil(height * ratio), scale_h)
        return new_h, new_w, ratio

    def _padded_size(self, new_h: int, new_w: int) -> Tuple[int, int]:
        if self.pad_to == 'full':
            return self.scale[1], self.scale[0]
        stride = self.size_divisor
        return (math.ceil(new_h / stride + self.extra_pad_ratio) * stride,
                math.ceil(new_w / stride + self.extra_pad_ratio) * stride)

    def transform(self, results: dict) -> dict:
        img = results['img']
        height, width = img.shape[:2]
        new_h, new_w, ratio = self._resized_size(height, width)
        if (new_h, new_w) != (height, width):
            if self.interpolation == 'auto':
                method = cv2.INTER_LINEAR if ratio > 1 else cv2.INTER_AREA
            else:
                method = _INTERPOLATIONS[self.interpolation]
            img = cv2.resize(img, (new_w, new_h), interpolation=method)
        pad_h, pad_w = self._padded_size(new_h, new_w)
        dh, dw = (pad_h - new_h) / 2, (pad_w - new_w) / 2
        top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
        left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
        if top or bottom or left or right:
            fill = self.pad_val if img.ndim == 2 else (
                self.pad_val, ) * img.shape[2]
            img = mmcv.impad(img, padding=(left, top, right, bottom),
                             pad_val=fill)
        scale_w, scale_h = new_w / width, new_h / height

        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['scale_factor'] = (scale_w, scale_h)
        results['pad_param'] = np.array([top, bottom, left, right],
                                        dtype=np.float32)
        results['keep_ratio'] = True
        if results.get('gt_bboxes') is not None:
            # float64 as in the training transforms, float32 when stored
            boxes = HorizontalBoxes(_boxes_as_array(results['gt_bboxes']))
            boxes.rescale_((scale_w, scale_h))
            boxes.translate_((left, top))
            results['gt_bboxes'] = _array_as_boxes(boxes.numpy(),
                                                   results['gt_bboxes'])
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, '
                f'pad_to={self.pad_to!r}, size_divisor={self.size_divisor}, '
                f'extra_pad_ratio={self.extra_pad_ratio}, '
                f'allow_scale_up={self.allow_scale_up})')
