"""Run a csdet ONNX file (YOLOv5 or SSD) with onnxruntime and NumPy only.

Module-level imports are the standard library and NumPy (onnxruntime when a
session opens, OpenCV only in :func:`prepare_image`), so this file can be
copied next to an exported ``.onnx`` and used without torch, mmcv or csdet.

File contract (``tools/export.py`` writes it to ``metadata_props`` as JSON,
read by :func:`read_metadata`):

- input ``images``: ``N x 3 x H x W`` float32, BGR turned to RGB
  (``normalization.bgr_to_rgb``), ``(x - mean) / std``, padded bottom/right
  with ``pad_value``; ``H x W`` = ``input_size`` unless ``dynamic_axes``
  has ``height``/``width``; batch 1 unless it has ``batch``. ``resize`` is
  the test pipeline's ``LetterBox`` (YOLOv5) or ``Resize`` (SSD).
- ``outputs``: the head's raw maps in input order. YOLOv5: per level
  ``N x (A * (5 + C)) x H/s x W/s`` logits, anchor-major
  ``[x, y, w, h, obj, cls..]``; ``anchors`` ``[L][A][2]``, ``strides``
  ``[L]``. SSD: ``L`` class maps ``N x (A * (C + 1)) x H_l x W_l``
  (background last), then ``L`` delta maps ``N x (A * 4) x H_l x W_l``;
  ``base_anchors`` ``[L][A][4]``, ``strides`` ``[L][2]``, ``bbox_coder``.
- ``classes``, ``test_cfg`` (the head's inference settings).

:func:`postprocess` reproduces in float32 NumPy the inference of csdet's
``YOLOv5Head`` (docs/yolov5.md, "Inference") and of mmdet's ``SSDHead``
(``CSSSDHead``), NMS being mmcv's rule (drop IoU ``> iou_threshold`` with a
kept box of the same class). Per image it gives ``bboxes`` ``[k, 4]`` xyxy
in original pixels, ``scores`` ``[k]``, ``labels`` ``[k]`` and
``cls_probs`` ``[k, C]``, as ``pred_instances`` holds them.
"""
import json
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

#: Value of the ``format`` metadata key this module reads.
FORMAT = 'csdet-raw-head-v1'
MODEL_TYPES = ('YOLOv5', 'SSD')
_JSON_KEYS = {
    'common': ('classes', 'outputs', 'input_size', 'dynamic_axes',
               'normalization', 'test_cfg', 'resize', 'strides'),
    'YOLOv5': ('anchors', ),
    'SSD': ('base_anchors', 'bbox_coder'),
}


# ------------------------------------------------------------- metadata
def read_metadata(path: str) -> Dict[str, Any]:
    """The csdet metadata of an ONNX file, JSON values decoded.

    Raises:
        ValueError: the file has no csdet metadata or another format.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    return _decode_metadata(session.get_modelmeta().custom_metadata_map,
                            path)


def _decode_metadata(raw: Mapping[str, str], path: str) -> Dict[str, Any]:
    if raw.get('format') != FORMAT or raw.get('model_type') not in (
            MODEL_TYPES):
        raise ValueError(
            f'{path}: not a csdet ONNX file (metadata format '
            f'{raw.get("format")!r}, model_type {raw.get("model_type")!r}; '
            f'expected {FORMAT!r} and one of {MODEL_TYPES}); export it with '
            'tools/export.py')
    meta = dict(raw)
    for key in _JSON_KEYS['common'] + _JSON_KEYS[raw['model_type']]:
        if key not in meta:
            raise ValueError(f'{path}: metadata lacks {key!r}; re-export it '
                             'with tools/export.py')
        meta[key] = json.loads(meta[key])
    return meta


# --------------------------------------------------------- preprocessing
_INTERPOLATIONS = ('nearest', 'bilinear', 'bicubic', 'area', 'lanczos')


def _cv2_interpolation(name: str) -> int:
    import cv2

    if name not in _INTERPOLATIONS:
        raise ValueError(f'unknown interpolation {name!r}; expected one of '
                         f'{_INTERPOLATIONS}')
    return dict(nearest=cv2.INTER_NEAREST, bilinear=cv2.INTER_LINEAR,
                bicubic=cv2.INTER_CUBIC, area=cv2.INTER_AREA,
                lanczos=cv2.INTER_LANCZOS4)[name]


def letterbox(image: np.ndarray,
              params: Mapping[str, Any]) -> Tuple[np.ndarray, dict]:
    """csdet's test-time ``LetterBox``: keep-ratio resize to fit ``scale``
    (w, h), then a centred pad with ``pad_val`` (to ``scale`` with
    ``pad_to='full'``, else each side to ``ceil(side / size_divisor +
    extra_pad_ratio) * size_divisor``)."""
    import cv2

    height, width = image.shape[:2]
    scale_w, scale_h = params['scale']
    ratio = min(scale_h / height, scale_w / width)
    if not params.get('allow_scale_up', True):
        ratio = min(ratio, 1.0)
    new_w = min(math.ceil(width * ratio), scale_w)
    new_h = min(math.ceil(height * ratio), scale_h)
    if (new_h, new_w) != (height, width):
        method = params.get('interpolation', 'auto')
        if method == 'auto':
            method = 'bilinear' if ratio > 1 else 'area'
        image = cv2.resize(image, (new_w, new_h),
                           interpolation=_cv2_interpolation(method))
    if params.get('pad_to', 'full') == 'full':
        pad_h, pad_w = scale_h, scale_w
    else:
        stride = params.get('size_divisor', 32)
        extra = params.get('extra_pad_ratio', 0.0)
        pad_h = math.ceil(new_h / stride + extra) * stride
        pad_w = math.ceil(new_w / stride + extra) * stride
    dh, dw = (pad_h - new_h) / 2, (pad_w - new_w) / 2
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    image = cv2.copyMakeBorder(image, top, bottom, left, right,
                               cv2.BORDER_CONSTANT,
                               value=(float(params.get('pad_val', 114.0)), ) *
                               3)
    return image, dict(scale_factor=(new_w / width, new_h / height),
                       pad_param=[top, bottom, left, right])


def resize(image: np.ndarray,
           params: Mapping[str, Any]) -> Tuple[np.ndarray, dict]:
    """mmdet's ``Resize``: to ``scale`` (w, h) exactly, or with
    ``keep_ratio`` as large as fits (mmcv ``imrescale``)."""
    import cv2

    height, width = image.shape[:2]
    scale_w, scale_h = params['scale']
    if params.get('keep_ratio', False):
        factor = min(max(scale_w, scale_h) / max(height, width),
                     min(scale_w, scale_h) / min(height, width))
        new_w, new_h = int(width * factor + 0.5), int(height * factor + 0.5)
    else:
        new_w, new_h = scale_w, scale_h
    image = cv2.resize(image, (new_w, new_h), interpolation=_cv2_interpolation(
        params.get('interpolation', 'bilinear')))
    return image, dict(scale_factor=(new_w / width, new_h / height))


def prepare_image(image: np.ndarray,
                  params: Mapping[str, Any]) -> Tuple[np.ndarray, dict]:
    """The test pipeline's resize step (``params`` = the file's ``resize``)
    on one uint8 BGR (``H x W x 3``) or grey (``H x W``) image.

    Returns:
        (resized image, its meta for :func:`postprocess`: ``ori_shape``,
        ``img_shape``, ``scale_factor`` and for a letterbox ``pad_param``).
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError('image must be uint8 H x W x 3 (BGR) or H x W '
                         f'(grey), got {image.dtype} {image.shape}')
    steps = dict(LetterBox=letterbox, Resize=resize)
    if params.get('type') not in steps:
        raise ValueError(f"resize step {params.get('type')!r} is not "
                         f'supported; resize the images yourself (one of '
                         f'{sorted(steps)} expected)')
    resized, meta = steps[params['type']](image, params)
    meta.update(ori_shape=image.shape[:2], img_shape=resized.shape[:2])
    return resized, meta


def normalize_batch(images: Sequence[np.ndarray],
                    normalization: Mapping[str, Any],
                    input_size: Optional[Sequence[int]] = None
                    ) -> np.ndarray:
    """The data preprocessor in NumPy: ``N x 3 x H x W`` float32 input.

    Each ``h x w x 3`` uint8 BGR image is turned to RGB when ``bgr_to_rgb``,
    normalised ``(x - mean) / std``, and padded at the bottom/right with
    ``pad_value`` to ``input_size`` (H, W) if given, else to the batch's
    largest size rounded up to ``pad_size_divisor`` (mmdet's
    DetDataPreprocessor batching).

    Raises:
        ValueError: no image, or an image larger than ``input_size``.
    """
    if len(images) == 0:
        raise ValueError('images is empty')
    mean = np.asarray(normalization['mean'], np.float32).reshape(3, 1, 1)
    std = np.asarray(normalization['std'], np.float32).reshape(3, 1, 1)
    if input_size is None:
        divisor = normalization.get('pad_size_divisor', 1)
        input_size = [
            int(math.ceil(max(image.shape[axis] for image in images) /
                          divisor) * divisor) for axis in (0, 1)
        ]
    height, width = input_size
    batch = np.full((len(images), 3, height, width),
                    normalization.get('pad_value', 0.0), dtype=np.float32)
    for index, image in enumerate(images):
        if image.shape[0] > height or image.shape[1] > width:
            raise ValueError(
                f'image {index} is {image.shape[0]} x {image.shape[1]} after '
                f'resizing but the model input is {height} x {width}; '
                'export with a larger --img-size or with --dynamic-shape')
        chw = image.transpose(2, 0, 1).astype(np.float32)
        if normalization.get('bgr_to_rgb', False):
            chw = chw[::-1]
        batch[index, :, :image.shape[0], :image.shape[1]] = (chw - mean) / std
    return batch


# --------------------------------------------------- shared post-processing
def _sigmoid(values: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-values.astype(np.float32)))).astype(
        np.float32)


def _softmax(values: np.ndarray) -> np.ndarray:
    shifted = np.exp(values - values.max(axis=-1, keepdims=True))
    return (shifted / shifted.sum(axis=-1, keepdims=True)).astype(np.float32)


def grid_priors(base_anchors: np.ndarray, stride: Sequence[float],
                height: int, width: int) -> np.ndarray:
    """``[H*W*A, 4]`` anchors of one level: the ``[A, 4]`` base anchors
    shifted to every cell, in mmdet's order (row-major cells, anchors
    within a cell), float32."""
    stride_w, stride_h = stride
    shift_x = np.arange(width, dtype=np.float32) * np.float32(stride_w)
    shift_y = np.arange(height, dtype=np.float32) * np.float32(stride_h)
    xx = np.tile(shift_x, height)
    yy = np.repeat(shift_y, width)
    shifts = np.stack([xx, yy, xx, yy], axis=1)
    return (np.asarray(base_anchors, np.float32)[None] +
            shifts[:, None]).reshape(-1, 4)


def nms(boxes: np.ndarray, scores: np.ndarray,
        iou_threshold: float) -> np.ndarray:
    """Greedy NMS as mmcv's CPU kernel: visit boxes by descending score,
    drop every later box whose IoU with a kept one is ``> iou_threshold``
    (float32 IoU, no +1). Returns kept indices, by descending score."""
    boxes = np.asarray(boxes, np.float32)
    order = np.argsort(-np.asarray(scores, np.float32), kind='stable')
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    keep = []
    alive = np.ones(len(order), dtype=bool)
    for position, index in enumerate(order):
        if not alive[position]:
            continue
        keep.append(index)
        rest = order[position + 1:]
        width = np.maximum(
            np.float32(0),
            np.minimum(x2[index], x2[rest]) - np.maximum(x1[index], x1[rest]))
        height = np.maximum(
            np.float32(0),
            np.minimum(y2[index], y2[rest]) - np.maximum(y1[index], y1[rest]))
        inter = width * height
        iou = inter / (areas[index] + areas[rest] - inter)
        alive[position + 1:] &= ~(iou > np.float32(iou_threshold))
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                nms_cfg: Mapping[str, Any]) -> np.ndarray:
    """Class-wise :func:`nms` (across classes with ``class_agnostic``);
    kept indices by descending score. Only ``type='nms'`` is supported."""
    nms_type = nms_cfg.get('type', 'nms')
    if nms_type != 'nms':
        raise NotImplementedError(
            f"test_cfg.nms.type={nms_type!r}: the NumPy post-processing "
            "implements 'nms' only")
    threshold = float(nms_cfg.get('iou_threshold', 0.5))
    if nms_cfg.get('class_agnostic', False):
        keep = nms(boxes, scores, threshold)
    else:
        keep = np.concatenate([
            np.flatnonzero(labels == label)[nms(
                boxes[labels == label], scores[labels == label], threshold)]
            for label in np.unique(labels)
        ] or [np.zeros(0, np.int64)])
    return keep[np.argsort(-scores[keep], kind='stable')]


def _nms_and_cut(result: Dict[str, np.ndarray],
                 cfg: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    if len(result['scores']) == 0:
        return result
    keep = batched_nms(result['bboxes'], result['scores'], result['labels'],
                       cfg.get('nms', dict(type='nms', iou_threshold=0.5)))
    keep = keep[:cfg.get('max_per_img', 100)]
    return {key: value[keep] for key, value in result.items()}


# ------------------------------------------------------------------ YOLOv5
def decode_yolov5(raw_outputs: Sequence[np.ndarray], anchors: Sequence,
                  strides: Sequence[int]) -> np.ndarray:
    """Raw YOLOv5 level maps -> ``[N, P, 4 + 1 + C]``: x1, y1, x2, y2
    (input pixels), objectness logit, class logits; priors in (level, cell,
    anchor) order."""
    decoded = []
    for raw, level_anchors, stride in zip(raw_outputs, anchors, strides):
        raw = np.asarray(raw, np.float32)
        num_imgs, channels, height, width = raw.shape
        num_anchors = len(level_anchors)
        attributes = channels // num_anchors
        pred = raw.reshape(num_imgs, num_anchors, attributes, height, width)
        pred = pred.transpose(0, 3, 4, 1, 2).reshape(num_imgs, -1,
                                                     attributes)
        # mmdet's YOLOAnchorGenerator: anchors centred at stride / 2
        sizes = np.asarray(level_anchors, np.float32)
        half = np.float32(stride / 2.0)
        priors = grid_priors(
            np.concatenate([half - 0.5 * sizes, half + 0.5 * sizes], 1),
            (stride, stride), height, width)
        centres = (priors[:, :2] + priors[:, 2:]) / np.float32(2)
        anchor_wh = priors[:, 2:] - priors[:, :2]
        xy = ((_sigmoid(pred[..., :2]) * np.float32(2) - np.float32(1.0)) *
              np.float32(stride) + centres)
        wh = (_sigmoid(pred[..., 2:4]) * np.float32(2))**2 * anchor_wh
        decoded.append(
            np.concatenate([xy - wh / 2, xy + wh / 2, pred[..., 4:]], -1))
    return np.concatenate(decoded, axis=1)


def _yolov5_rescale(bboxes: np.ndarray,
                    img_meta: Mapping[str, Any]) -> np.ndarray:
    pad_param = img_meta.get('pad_param')
    if pad_param is not None:
        top, _, left, _ = (float(value) for value in pad_param)
        bboxes = bboxes - np.array([left, top, left, top], np.float32)
    scale_w, scale_h = (float(value)
                        for value in img_meta['scale_factor'][:2])
    bboxes = bboxes / np.array([scale_w, scale_h] * 2, np.float32)
    if 'ori_shape' in img_meta:
        height, width = img_meta['ori_shape'][:2]
        bboxes[:, 0::2] = bboxes[:, 0::2].clip(0, width)
        bboxes[:, 1::2] = bboxes[:, 1::2].clip(0, height)
    return bboxes


def yolov5_postprocess_single(preds: np.ndarray, cfg: Mapping[str, Any],
                              num_classes: int,
                              img_meta: Optional[Mapping[str, Any]] = None
                              ) -> Dict[str, np.ndarray]:
    """One image's decoded ``[P, 5 + C]`` predictions -> detections."""
    score_thr = cfg.get('score_thr', 0.001)
    objectness = _sigmoid(preds[:, 4])
    candidates = objectness > score_thr
    bboxes = preds[candidates, :4]
    cls_probs = _sigmoid(preds[candidates, 5:])
    scores = cls_probs * objectness[candidates, None]
    if cfg.get('multi_label', True) and num_classes > 1:
        det_inds, labels = np.nonzero(scores > score_thr)
        det_scores = scores[det_inds, labels]
    else:
        labels = scores.argmax(axis=1) if len(scores) else np.zeros(
            0, np.int64)
        best = scores[np.arange(len(scores)), labels]
        det_inds = np.flatnonzero(best > score_thr)
        det_scores, labels = best[det_inds], labels[det_inds]
    order = np.argsort(-det_scores, kind='stable')
    nms_pre = cfg.get('nms_pre', 30000)
    if nms_pre > 0:
        order = order[:nms_pre]
    det_inds, labels, det_scores = (det_inds[order], labels[order],
                                    det_scores[order])
    result = _nms_and_cut(
        dict(bboxes=bboxes[det_inds], scores=det_scores,
             labels=labels.astype(np.int64), cls_probs=cls_probs[det_inds]),
        dict(dict(nms=dict(type='nms', iou_threshold=0.6),
                  max_per_img=300), **cfg))
    if img_meta is not None and 'scale_factor' in img_meta:
        result['bboxes'] = _yolov5_rescale(result['bboxes'], img_meta)
    return result


# --------------------------------------------------------------------- SSD
def delta2bbox(priors: np.ndarray, deltas: np.ndarray,
               coder: Mapping[str, Any],
               max_shape: Optional[Sequence[int]] = None) -> np.ndarray:
    """mmdet's ``DeltaXYWHBBoxCoder.decode``: de-normalised deltas (dx, dy,
    dw, dh) applied to the priors, dw/dh clipped to ``|log
    wh_ratio_clip|``, boxes clipped to ``max_shape`` (h, w) when
    ``clip_border``."""
    deltas = (np.asarray(deltas, np.float32) *
              np.asarray(coder['stds'], np.float32) +
              np.asarray(coder['means'], np.float32))
    centres = (priors[:, :2] + priors[:, 2:]) * np.float32(0.5)
    sizes = priors[:, 2:] - priors[:, :2]
    limit = np.float32(abs(np.log(coder.get('wh_ratio_clip', 16 / 1000))))
    new_centres = centres + sizes * deltas[:, :2]
    new_sizes = sizes * np.exp(np.clip(deltas[:, 2:], -limit, limit))
    boxes = np.concatenate([new_centres - new_sizes * np.float32(0.5),
                            new_centres + new_sizes * np.float32(0.5)], 1)
    if coder.get('clip_border', True) and max_shape is not None:
        height, width = max_shape[:2]
        boxes = np.clip(boxes, 0,
                        np.array([width, height, width, height], np.float32))
    return boxes.astype(np.float32)


def ssd_postprocess_single(cls_maps: Sequence[np.ndarray],
                           box_maps: Sequence[np.ndarray],
                           meta: Mapping[str, Any], cfg: Mapping[str, Any],
                           img_meta: Optional[Mapping[str, Any]] = None
                           ) -> Dict[str, np.ndarray]:
    """One image's SSD maps (``[A*(C+1), H, W]`` and ``[A*4, H, W]`` per
    level) -> detections."""
    num_classes = len(meta['classes'])
    score_thr = cfg.get('score_thr', 0)
    nms_pre = cfg.get('nms_pre', -1)
    kept = dict(deltas=[], priors=[], scores=[], labels=[], cls_probs=[])
    for cls_map, box_map, base, stride in zip(cls_maps, box_maps,
                                              meta['base_anchors'],
                                              meta['strides']):
        height, width = cls_map.shape[1:]
        priors = grid_priors(base, stride, height, width)
        deltas = box_map.transpose(1, 2, 0).reshape(-1, 4)
        probs = _softmax(
            cls_map.transpose(1, 2, 0).reshape(-1, num_classes + 1))[:, :-1]
        # mmdet's filter_scores_and_topk (slice by min(nms_pre, n) as it
        # does, so nms_pre = -1 drops the last pair just like mmdet)
        anchor_inds, labels = np.nonzero(probs > score_thr)
        scores = probs[anchor_inds, labels]
        order = np.argsort(-scores, kind='stable')[:min(nms_pre, len(scores))]
        anchor_inds, labels = anchor_inds[order], labels[order]
        kept['scores'].append(scores[order])
        kept['labels'].append(labels.astype(np.int64))
        kept['deltas'].append(deltas[anchor_inds])
        kept['priors'].append(priors[anchor_inds])
        kept['cls_probs'].append(probs[anchor_inds])
    joined = {key: np.concatenate(value) for key, value in kept.items()}
    input_shape = (img_meta or {}).get('img_shape', meta['input_size'])
    bboxes = delta2bbox(joined['priors'], joined['deltas'],
                        meta['bbox_coder'], input_shape)
    if img_meta is not None and 'scale_factor' in img_meta:
        scale_w, scale_h = (float(v) for v in img_meta['scale_factor'][:2])
        bboxes = bboxes * np.array([1 / scale_w, 1 / scale_h] * 2,
                                   np.float32)
    result = dict(bboxes=bboxes, scores=joined['scores'],
                  labels=joined['labels'], cls_probs=joined['cls_probs'])
    min_size = cfg.get('min_bbox_size', -1)
    if min_size >= 0:
        large = ((bboxes[:, 2] - bboxes[:, 0] > min_size) &
                 (bboxes[:, 3] - bboxes[:, 1] > min_size))
        result = {key: value[large] for key, value in result.items()}
    return _nms_and_cut(result, cfg)


# --------------------------------------------------------------- dispatch
def postprocess(raw_outputs: Sequence[np.ndarray], meta: Mapping[str, Any],
                img_metas: Optional[Sequence[Mapping[str, Any]]] = None,
                test_cfg: Optional[Mapping[str, Any]] = None
                ) -> List[Dict[str, np.ndarray]]:
    """Raw outputs of a batch -> per-image detections (module docstring).

    Args:
        raw_outputs: the session's outputs, in ``meta['outputs']`` order.
        meta: :func:`read_metadata` of the file.
        img_metas: per image ``scale_factor`` (w, h), ``ori_shape``,
            ``img_shape`` and for a letterbox ``pad_param``, e.g. from
            :func:`prepare_image`; None keeps input pixels.
        test_cfg: entries that override the file's ``test_cfg``.
    """
    cfg = dict(meta['test_cfg'])
    cfg.update(test_cfg or {})
    num_imgs = len(raw_outputs[0])
    if img_metas is not None and len(img_metas) != num_imgs:
        raise ValueError(f'{len(img_metas)} img_metas for a batch of '
                         f'{num_imgs} images')
    metas = [None] * num_imgs if img_metas is None else img_metas
    if meta['model_type'] == 'YOLOv5':
        decoded = decode_yolov5(raw_outputs, meta['anchors'],
                                meta['strides'])
        return [
            yolov5_postprocess_single(preds, cfg, len(meta['classes']),
                                      img_meta)
            for preds, img_meta in zip(decoded, metas)
        ]
    levels = len(raw_outputs) // 2
    return [
        ssd_postprocess_single([out[index] for out in raw_outputs[:levels]],
                               [out[index] for out in raw_outputs[levels:]],
                               meta, cfg, img_meta)
        for index, img_meta in enumerate(metas)
    ]


# ----------------------------------------------------------------- session
class OnnxDetector:
    """An onnxruntime session on a csdet ONNX file (YOLOv5 or SSD).

    Args:
        path: the ``.onnx`` file.
        num_threads: intra-op threads (None = onnxruntime's default).
        providers: onnxruntime execution providers.

    ``meta`` holds the decoded metadata, ``classes`` the class names;
    :meth:`forward` runs the network, :meth:`predict` adds
    :func:`postprocess`, :meth:`predict_images` the resize and
    normalisation too.
    """

    def __init__(self, path: str, num_threads: Optional[int] = None,
                 providers: Sequence[str] = ('CPUExecutionProvider', )
                 ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = int(num_threads)
            options.inter_op_num_threads = 1
        self.path = str(path)
        self.session = ort.InferenceSession(self.path, options,
                                            providers=list(providers))
        self.meta = _decode_metadata(
            self.session.get_modelmeta().custom_metadata_map, self.path)
        self.input_name = self.meta['input_name']
        self.classes = tuple(self.meta['classes'])

    @property
    def dynamic_batch(self) -> bool:
        return 'batch' in self.meta['dynamic_axes']

    @property
    def dynamic_shape(self) -> bool:
        return 'height' in self.meta['dynamic_axes']

    def forward(self, inputs: np.ndarray) -> List[np.ndarray]:
        """Raw outputs for an ``N x 3 x H x W`` float32 batch.

        Raises:
            ValueError: wrong rank/dtype/channels, or a shape the file does
                not accept (fixed batch or size), with the fix.
        """
        inputs = np.ascontiguousarray(inputs)
        if inputs.ndim != 4 or inputs.shape[1] != 3 or (inputs.dtype !=
                                                        np.float32):
            raise ValueError(
                f'{self.path}: input must be N x 3 x H x W float32, got '
                f'{inputs.dtype} {inputs.shape}')
        height, width = self.meta['input_size']
        if not self.dynamic_batch and inputs.shape[0] != 1:
            raise ValueError(
                f'{self.path}: exported for batch 1, got batch '
                f'{inputs.shape[0]}; re-export with --dynamic-batch')
        if not self.dynamic_shape and inputs.shape[2:] != (height, width):
            raise ValueError(
                f'{self.path}: exported for {height} x {width} inputs, got '
                f'{inputs.shape[2]} x {inputs.shape[3]}; pad the batch to '
                'that size or re-export with --dynamic-shape')
        return self.session.run(self.meta['outputs'],
                                {self.input_name: inputs})

    def predict(self, inputs: np.ndarray,
                img_metas: Optional[Sequence[Mapping[str, Any]]] = None,
                test_cfg: Optional[Mapping[str, Any]] = None
                ) -> List[Dict[str, np.ndarray]]:
        """:func:`postprocess` of :meth:`forward`."""
        return postprocess(self.forward(inputs), self.meta, img_metas,
                           test_cfg)

    def predict_images(self, images: Sequence[np.ndarray],
                       test_cfg: Optional[Mapping[str, Any]] = None
                       ) -> List[Dict[str, np.ndarray]]:
        """Detections of uint8 BGR (or grey) images of any size, boxes in
        their pixels: :func:`prepare_image`, :func:`normalize_batch`,
        :meth:`predict` (in batches of one for a batch-1 file)."""
        prepared = [prepare_image(image, self.meta['resize'])
                    for image in images]
        step = len(prepared) if self.dynamic_batch else 1
        results = []
        for start in range(0, len(prepared), step):
            chunk = prepared[start:start + step]
            batch = normalize_batch(
                [image for image, _ in chunk], self.meta['normalization'],
                None if self.dynamic_shape else self.meta['input_size'])
            results += self.predict(batch, [meta for _, meta in chunk],
                                    test_cfg)
        return results
