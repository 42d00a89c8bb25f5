"""Run a csdet YOLOv5 ONNX file with onnxruntime and NumPy only.

This file imports nothing but the standard library and NumPy at module
level (onnxruntime when a session is opened, OpenCV only in
:func:`letterbox`), so it can be copied next to an exported ``.onnx`` file
and used where neither torch, mmcv nor csdet is installed.

Contract of a file written by ``tools/export.py`` (all of it is in the
file's ``metadata_props``, JSON-encoded, read by :func:`read_metadata`):

- one input ``images``: ``N x 3 x H x W`` float32, what csdet's data
  preprocessor gives the backbone: BGR pixels turned to RGB
  (``bgr_to_rgb``), ``(x - mean) / std`` (YOLOv5: mean 0, std 255), then
  padded at the bottom/right to ``H x W`` with ``pad_value`` (YOLOv5: 114 /
  255). ``H`` and ``W`` are fixed (``input_size``) unless the file was
  exported with dynamic spatial axes (then any multiple of 32).
- one raw output per pyramid level (``outputs``, stride ``strides[l]``):
  ``N x (A * (5 + C)) x H/s x W/s``, anchor-major, each anchor
  ``[x, y, w, h, objectness, class_0 .. class_{C-1}]`` logits.
- ``anchors`` ``[L][A][2]`` (w, h in input pixels), ``classes``,
  ``test_cfg`` (``score_thr``, ``nms_pre``, ``nms.iou_threshold``,
  ``max_per_img``, ``multi_label``) and the test pipeline's ``letterbox``.

Post-processing (:func:`postprocess`) is csdet's ``YOLOv5Head.predict_by_feat``
in NumPy: decode ``xy = (2 sigmoid - 0.5 + cell) * stride``, ``wh = (2
sigmoid)^2 * anchor``; keep anchors with ``sigmoid(obj) > score_thr``;
scores ``sigmoid(obj) * sigmoid(cls)``; every (anchor, class) pair above
``score_thr`` when ``multi_label`` (else the best class); the top
``nms_pre`` by score; class-wise NMS (IoU > threshold suppresses, as mmcv's
``batched_nms``); the first ``max_per_img``; boxes mapped back to the
original image with the letterbox's ``pad_param`` / ``scale_factor`` and
clipped to ``ori_shape``. Each image gives ``bboxes`` ``[k, 4]`` xyxy,
``scores`` ``[k]``, ``labels`` ``[k]`` and ``cls_probs`` ``[k, C]`` (the
anchor's class sigmoids), like the PyTorch model's ``pred_instances``.
"""
import json
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

#: Value of the ``format`` metadata key this module reads.
FORMAT = 'csdet-yolov5-raw-v1'
_JSON_KEYS = ('classes', 'outputs', 'input_size', 'strides', 'anchors',
              'normalization', 'test_cfg', 'letterbox', 'dynamic_axes')


# ------------------------------------------------------------- metadata
def read_metadata(path: str) -> Dict[str, Any]:
    """The csdet metadata of an ONNX file, JSON values decoded.

    Raises:
        ValueError: the file has no csdet metadata or another format.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    session = ort.InferenceSession(
        path, options, providers=['CPUExecutionProvider'])
    return _decode_metadata(session.get_modelmeta().custom_metadata_map,
                            path)


def _decode_metadata(raw: Mapping[str, str], path: str) -> Dict[str, Any]:
    if raw.get('format') != FORMAT:
        raise ValueError(
            f'{path}: not a csdet YOLOv5 ONNX file (metadata format '
            f'{raw.get("format")!r}, expected {FORMAT!r}); export it with '
            'tools/export.py')
    meta = dict(raw)
    for key in _JSON_KEYS:
        if key not in meta:
            raise ValueError(f'{path}: metadata lacks {key!r}; re-export it '
                             'with tools/export.py')
        meta[key] = json.loads(meta[key])
    return meta


# --------------------------------------------------------- preprocessing
def letterbox(image: np.ndarray,
              params: Mapping[str, Any]) -> Tuple[np.ndarray, dict]:
    """csdet's test-time ``LetterBox`` (keep-ratio resize, centred pad).

    Args:
        image: ``H x W x 3`` uint8 BGR (or ``H x W`` grey, repeated to 3
            channels).
        params: the file's ``letterbox`` metadata (``scale`` (w, h),
            ``pad_to``, ``size_divisor``, ``extra_pad_ratio``,
            ``allow_scale_up``, ``pad_val``, ``interpolation``).

    Returns:
        (letterboxed uint8 image, meta with ``ori_shape``, ``img_shape``,
        ``scale_factor`` (w, h) and ``pad_param`` [top, bottom, left,
        right]) for :func:`postprocess`.
    """
    import cv2

    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError('image must be H x W x 3 (BGR) or H x W (grey), '
                         f'got shape {image.shape}')
    height, width = image.shape[:2]
    scale_w, scale_h = params['scale']
    ratio = min(scale_h / height, scale_w / width)
    if not params.get('allow_scale_up', True):
        ratio = min(ratio, 1.0)
    new_w = min(math.ceil(width * ratio), scale_w)
    new_h = min(math.ceil(height * ratio), scale_h)
    if (new_h, new_w) != (height, width):
        methods = dict(bilinear=cv2.INTER_LINEAR, area=cv2.INTER_AREA,
                       nearest=cv2.INTER_NEAREST)
        method = params.get('interpolation', 'auto')
        method = ((cv2.INTER_LINEAR if ratio > 1 else cv2.INTER_AREA)
                  if method == 'auto' else methods[method])
        image = cv2.resize(image, (new_w, new_h), interpolation=method)
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
    fill = (float(params.get('pad_val', 114.0)), ) * 3
    image = cv2.copyMakeBorder(image, top, bottom, left, right,
                               cv2.BORDER_CONSTANT, value=fill)
    meta = dict(
        ori_shape=(height, width),
        img_shape=image.shape[:2],
        scale_factor=(new_w / width, new_h / height),
        pad_param=[top, bottom, left, right])
    return image, meta


def normalize_batch(images: Sequence[np.ndarray],
                    normalization: Mapping[str, Any],
                    input_size: Optional[Sequence[int]] = None,
                    size_divisor: Optional[int] = None) -> np.ndarray:
    """The data preprocessor in NumPy: ``N x 3 x H x W`` float32 input.

    Each ``h x w x 3`` uint8 BGR image is turned to RGB when ``bgr_to_rgb``,
    normalised ``(x - mean) / std``, and padded at the bottom/right with
    ``pad_value`` to ``input_size`` (H, W) if given, else to the batch's
    largest size rounded up to ``size_divisor`` (mmdet's DetDataPreprocessor
    batching).

    Raises:
        ValueError: an image is larger than ``input_size``.
    """
    if not images:
        raise ValueError('images is empty')
    mean = np.asarray(normalization['mean'], np.float32).reshape(3, 1, 1)
    std = np.asarray(normalization['std'], np.float32).reshape(3, 1, 1)
    if input_size is None:
        divisor = size_divisor or normalization.get('pad_size_divisor', 1)
        height = max(image.shape[0] for image in images)
        width = max(image.shape[1] for image in images)
        input_size = (int(math.ceil(height / divisor) * divisor),
                      int(math.ceil(width / divisor) * divisor))
    height, width = input_size
    batch = np.full((len(images), 3, height, width),
                    normalization.get('pad_value', 0.0), dtype=np.float32)
    for index, image in enumerate(images):
        if image.shape[0] > height or image.shape[1] > width:
            raise ValueError(
                f'image {index} is {image.shape[0]} x {image.shape[1]} but '
                f'the model input is {height} x {width}; export with a '
                'larger --img-size or with --dynamic-shape')
        chw = image.transpose(2, 0, 1).astype(np.float32)
        if normalization.get('bgr_to_rgb', False):
            chw = chw[::-1]
        batch[index, :, :image.shape[0], :image.shape[1]] = (chw - mean) / std
    return batch


# -------------------------------------------------------- post-processing
def _sigmoid(values: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-values.astype(np.float32)))).astype(
        np.float32)


def level_priors(height: int, width: int, stride: int,
                 anchors: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Centres ``[H*W*A, 2]`` and sizes ``[H*W*A, 2]`` of one level's
    anchors, in mmdet's ``YOLOAnchorGenerator`` order (cell-major,
    row-major cells, anchor-minor) and float32 arithmetic."""
    anchors = np.asarray(anchors, np.float32)
    half = np.float32(stride / 2.0)
    base = np.concatenate([half - 0.5 * anchors, half + 0.5 * anchors],
                          axis=1).astype(np.float32)
    shift_x = np.arange(width, dtype=np.float32) * np.float32(stride)
    shift_y = np.arange(height, dtype=np.float32) * np.float32(stride)
    xx = np.tile(shift_x, height)
    yy = np.repeat(shift_y, width)
    shifts = np.stack([xx, yy, xx, yy], axis=1)
    priors = (base[None] + shifts[:, None]).reshape(-1, 4)
    centres = (priors[:, :2] + priors[:, 2:]) / np.float32(2)
    return centres, priors[:, 2:] - priors[:, :2]


def decode(raw_outputs: Sequence[np.ndarray], anchors: Sequence,
           strides: Sequence[int]) -> np.ndarray:
    """Raw level maps -> ``[N, P, 4 + 1 + C]``: x1, y1, x2, y2 (input
    pixels), objectness logit, class logits; prior order (level, cell,
    anchor)."""
    decoded = []
    for raw, level_anchors, stride in zip(raw_outputs, anchors, strides):
        raw = np.asarray(raw, np.float32)
        num_imgs, channels, height, width = raw.shape
        num_anchors = len(level_anchors)
        attributes = channels // num_anchors
        pred = raw.reshape(num_imgs, num_anchors, attributes, height, width)
        pred = pred.transpose(0, 3, 4, 1, 2).reshape(num_imgs, -1,
                                                     attributes)
        centres, sizes = level_priors(height, width, stride, level_anchors)
        xy = ((_sigmoid(pred[..., :2]) * np.float32(2) - np.float32(1.0)) *
              np.float32(stride) + centres)
        wh = (_sigmoid(pred[..., 2:4]) * np.float32(2))**2 * sizes
        decoded.append(
            np.concatenate([xy - wh / 2, xy + wh / 2, pred[..., 4:]], -1))
    return np.concatenate(decoded, axis=1)


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


def _rescale(bboxes: np.ndarray, img_meta: Mapping[str, Any]) -> np.ndarray:
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


def postprocess_single(preds: np.ndarray, test_cfg: Mapping[str, Any],
                       num_classes: int,
                       img_meta: Optional[Mapping[str, Any]] = None,
                       with_nms: bool = True) -> Dict[str, np.ndarray]:
    """One image's decoded ``[P, 5 + C]`` predictions -> detections (module
    docstring); boxes in original pixels when ``img_meta`` has
    ``scale_factor``, else in input pixels."""
    score_thr = test_cfg.get('score_thr', 0.001)
    objectness = _sigmoid(preds[:, 4])
    candidates = objectness > score_thr
    bboxes = preds[candidates, :4]
    cls_probs = _sigmoid(preds[candidates, 5:])
    scores = cls_probs * objectness[candidates, None]
    if test_cfg.get('multi_label', True) and num_classes > 1:
        det_inds, labels = np.nonzero(scores > score_thr)
        det_scores = scores[det_inds, labels]
    else:
        labels = scores.argmax(axis=1) if len(scores) else np.zeros(
            0, np.int64)
        best = scores[np.arange(len(scores)), labels]
        det_inds = np.flatnonzero(best > score_thr)
        det_scores, labels = best[det_inds], labels[det_inds]
    order = np.argsort(-det_scores, kind='stable')
    nms_pre = test_cfg.get('nms_pre', 30000)
    if nms_pre > 0:
        order = order[:nms_pre]
    det_inds, labels, det_scores = (det_inds[order], labels[order],
                                    det_scores[order])
    result = dict(bboxes=bboxes[det_inds], scores=det_scores,
                  labels=labels.astype(np.int64),
                  cls_probs=cls_probs[det_inds])
    if with_nms and len(det_scores):
        keep = batched_nms(result['bboxes'], result['scores'],
                           result['labels'],
                           test_cfg.get('nms', dict(type='nms',
                                                    iou_threshold=0.6)))
        keep = keep[:test_cfg.get('max_per_img', 300)]
        result = {key: value[keep] for key, value in result.items()}
    if img_meta is not None and 'scale_factor' in img_meta:
        result['bboxes'] = _rescale(result['bboxes'], img_meta)
    return result


def postprocess(raw_outputs: Sequence[np.ndarray], meta: Mapping[str, Any],
                img_metas: Optional[Sequence[Mapping[str, Any]]] = None,
                test_cfg: Optional[Mapping[str, Any]] = None
                ) -> List[Dict[str, np.ndarray]]:
    """Raw outputs of a batch -> per-image detections.

    Args:
        raw_outputs: the session's outputs, in ``meta['outputs']`` order.
        meta: :func:`read_metadata` of the file.
        img_metas: per image ``scale_factor``, ``pad_param``, ``ori_shape``
            (e.g. from :func:`letterbox`); None keeps input pixels.
        test_cfg: overrides the file's ``test_cfg``.
    """
    cfg = dict(meta['test_cfg'])
    cfg.update(test_cfg or {})
    decoded = decode(raw_outputs, meta['anchors'], meta['strides'])
    if img_metas is not None and len(img_metas) != len(decoded):
        raise ValueError(f'{len(img_metas)} img_metas for a batch of '
                         f'{len(decoded)} images')
    return [
        postprocess_single(preds, cfg, len(meta['classes']),
                           None if img_metas is None else img_metas[index])
        for index, preds in enumerate(decoded)
    ]


# ----------------------------------------------------------------- session
class OnnxYOLOv5:
    """An onnxruntime session on a csdet YOLOv5 ONNX file.

    Args:
        path: the ``.onnx`` file.
        num_threads: intra-op threads (None = onnxruntime's default).
        providers: onnxruntime execution providers.

    ``meta`` holds the decoded metadata; ``forward`` runs the network,
    ``predict`` adds :func:`postprocess`, ``predict_images`` the letterbox
    and normalisation too.
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

    def forward(self, inputs: np.ndarray) -> List[np.ndarray]:
        """Raw level outputs for an ``N x 3 x H x W`` float32 batch.

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
        dynamic = self.meta['dynamic_axes']
        height, width = self.meta['input_size']
        if 'batch' not in dynamic and inputs.shape[0] != 1:
            raise ValueError(
                f'{self.path}: exported for batch 1, got batch '
                f'{inputs.shape[0]}; re-export with --dynamic-batch')
        if 'height' not in dynamic and inputs.shape[2:] != (height, width):
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
        their pixels: :func:`letterbox`, :func:`normalize_batch`,
        :meth:`predict`."""
        boxed = [letterbox(image, self.meta['letterbox']) for image in images]
        fixed = 'height' not in self.meta['dynamic_axes']
        batch_size = (len(boxed)
                      if 'batch' in self.meta['dynamic_axes'] else 1)
        results = []
        for start in range(0, len(boxed), batch_size):
            chunk = boxed[start:start + batch_size]
            batch = normalize_batch(
                [image for image, _ in chunk], self.meta['normalization'],
                input_size=self.meta['input_size'] if fixed else None)
            results += self.predict(batch, [meta for _, meta in chunk],
                                    test_cfg)
        return results
