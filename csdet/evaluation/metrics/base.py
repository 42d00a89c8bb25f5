"""Shared machinery of the csdet detection metrics.

:class:`CostSensitiveDetMetric` turns each evaluated sample into a record of
NumPy arrays (predictions and ground truth in original-image coordinates),
resolves the cost matrix in dataset class order, applies the optional Bayes
minimum-risk relabelling and writes a JSON summary.

Ground truth (``gt_source``): ``'instances'`` (the dataset's raw
annotations, original coordinates), ``'gt_instances'`` (what
``PackDetInputs`` packs, plus ``ignored_instances``; ``gt_coords`` says
whether it is ``'original'`` or ``'resized'``, the latter mapped back like
the predictions and an error when it falls clearly outside ``ori_shape``),
or ``'auto'`` (default: ``'instances'`` when present). Predictions come
from ``pred_instances`` (``bboxes``, ``scores``, ``labels``,
``cls_probs``), already rescaled by the model. Details: docs/method.md,
section 4, "Ground truth and predictions".
"""
import json
import math
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement
from mmdet.structures.bbox import get_box_tensor

from csdet.cost.decision import bayes_min_risk_labels
from csdet.utils.atomic import atomic_write

CLS_PROBS_HELP = (
    "pred_instances has no 'cls_probs' field. {metric} needs each "
    "detection's full class-probability vector, a float tensor "
    "[num_dets, num_classes] in dataset class order. csdet's heads attach "
    "it in predict() (e.g. YOLOv5Head, CSSSDHead); stock mmdet heads do "
    "not. Evaluate a csdet detector (or any head that sets "
    "pred_instances.cls_probs), or drop this metric / bayes_relabel.")


def _to_numpy(value: Any, dtype=np.float64) -> np.ndarray:
    value = get_box_tensor(value)  # BaseBoxes -> Tensor, others unchanged
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def _get(container: Any, key: str, default: Any = None) -> Any:
    """Read ``key`` from a dict or a data element."""
    if isinstance(container, dict):
        return container.get(key, default)
    return getattr(container, key, default)


def _boxes(value: Any) -> np.ndarray:
    return _to_numpy(value).reshape(-1, 4)


def jsonable(value: Any) -> Any:
    """Convert arrays/NumPy scalars to lists/floats; NaN/inf become None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.integer, )):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def above_threshold(scores: np.ndarray, threshold: float) -> np.ndarray:
    """``scores >= threshold`` in float32, the dtype of the stored scores
    (a float64 threshold would drop a float32 score equal to it)."""
    return scores >= np.float32(threshold)


def float32_to_float(value: Any) -> float:
    """The shortest decimal of a float32 (0.9, not 0.8999999761581421)."""
    return float(str(np.float32(value)))


def safe_mean(values: np.ndarray) -> float:
    """Mean, or NaN for an empty array (an undefined average is reported,
    not hidden as 0)."""
    return float(np.mean(values)) if len(values) else float('nan')


class CostSensitiveDetMetric(BaseMetric):
    """Base class: record collection, cost matrix, relabelling, JSON output.

    Args:
        iou_thr: IoU needed for a detection to match a ground truth.
        bayes_relabel: relabel every detection with the Bayes minimum-risk
            class ``argmin_k sum_c p_c * C[c, k]`` (its score is kept)
            before scoring. Needs ``pred_instances.cls_probs``.
        cost_matrix, classes, positive_classes, coefficients, group,
            normalize: the cost spec, passed to
            :func:`csdet.cost.matrix.resolve_cost_matrix` exactly as for the
            loss. ``classes`` defaults to ``dataset_meta['classes']``; when
            given it must hold the same names (any order: the matrix is
            re-indexed to dataset order).
        gt_source: ``'auto'`` | ``'instances'`` | ``'gt_instances'`` (see the
            module docstring).
        gt_coords: ``'original'`` | ``'resized'``, frame of
            ``gt_instances`` boxes.
        output_dir: folder for the JSON (and plots). None = the folder of the
            current run's log file (``work_dir/<timestamp>/``, next to
            mmengine's own output); nothing is written when there is none.
        collect_device, prefix: see :class:`mmengine.evaluator.BaseMetric`.
    """
    #: whether the metric always needs pred_instances.cls_probs
    requires_cls_probs: bool = False

    def __init__(self,
                 iou_thr: float = 0.5,
                 bayes_relabel: bool = False,
                 cost_matrix: Optional[Union[str, Sequence,
                                             np.ndarray]] = None,
                 classes: Optional[Sequence[str]] = None,
                 positive_classes: Optional[Sequence[str]] = None,
                 coefficients: Optional[Sequence[float]] = None,
                 group: Optional[str] = None,
                 normalize: Optional[str] = 'max',
                 gt_source: str = 'auto',
                 gt_coords: str = 'original',
                 output_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not 0.0 <= iou_thr <= 1.0:
            raise ValueError(f'iou_thr must be in [0, 1], got {iou_thr}')
        if gt_source not in ('auto', 'instances', 'gt_instances'):
            raise ValueError("gt_source must be 'auto', 'instances' or "
                             f"'gt_instances', got {gt_source!r}")
        if gt_coords not in ('original', 'resized'):
            raise ValueError("gt_coords must be 'original' or 'resized', got "
                             f'{gt_coords!r}')
        self.iou_thr = float(iou_thr)
        self.bayes_relabel = bool(bayes_relabel)
        self.cost_spec = dict(
            cost_matrix=cost_matrix,
            classes=None if classes is None else tuple(classes),
            positive_classes=positive_classes,
            coefficients=coefficients,
            group=group,
            normalize=normalize)
        self.gt_source = gt_source
        self.gt_coords = gt_coords
        self.output_dir = output_dir
        self._cost_matrix: Optional[np.ndarray] = None

    # ------------------------------------------------------------------
    # classes and cost matrix
    @property
    def class_names(self) -> tuple:
        meta = self.dataset_meta or {}
        if 'classes' in meta:
            return tuple(meta['classes'])
        if self.cost_spec['classes'] is not None:
            return self.cost_spec['classes']
        raise RuntimeError(
            f'{type(self).__name__} needs the class names: set '
            "dataset_meta (the runner does this from the dataset's "
            "metainfo['classes']) or pass classes=[...].")

    @property
    def cost_matrix(self) -> np.ndarray:
        """The cost matrix in dataset class order, resolved on first use."""
        if self._cost_matrix is None:
            self._cost_matrix = resolve_dataset_cost_matrix(
                self.cost_spec, self.class_names, type(self).__name__)
        return self._cost_matrix

    # ------------------------------------------------------------------
    # per-sample records
    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store one record of NumPy arrays per sample (see module doc)."""
        needs_probs = self.requires_cls_probs or self.bayes_relabel
        for data_sample in data_samples:
            if isinstance(data_sample, BaseDataElement):
                data_sample = data_sample.to_dict()
            record = self._prediction_record(data_sample, needs_probs)
            record.update(self._ground_truth_record(data_sample))
            self.results.append(record)

    def _prediction_record(self, data_sample: dict,
                           needs_probs: bool) -> Dict[str, Any]:
        pred = data_sample['pred_instances']
        bboxes = _boxes(_get(pred, 'bboxes', np.zeros((0, 4))))
        record = dict(
            img_id=data_sample.get('img_id'),
            bboxes=bboxes,
            # float32 like the model's scores, so that thresholds compare
            # as they would in torch (0.9 keeps a float32 score of 0.9)
            scores=_to_numpy(_get(pred, 'scores', np.zeros(0)),
                             np.float32).reshape(-1),
            labels=_to_numpy(_get(pred, 'labels', np.zeros(0)),
                             np.int64).reshape(-1))
        cls_probs = _get(pred, 'cls_probs')
        if cls_probs is None:
            if needs_probs:
                name = type(self).__name__
                raise KeyError(
                    CLS_PROBS_HELP.format(
                        metric=name if self.requires_cls_probs else
                        f'{name} with bayes_relabel=True'))
            record['cls_probs'] = None
        else:
            cls_probs = _to_numpy(cls_probs)
            if cls_probs.size == 0 and len(bboxes) == 0:
                cls_probs = np.zeros(
                    (0, cls_probs.shape[-1] if cls_probs.ndim == 2 else 0))
            if cls_probs.ndim != 2 or len(cls_probs) != len(bboxes):
                raise ValueError(
                    'pred_instances.cls_probs must be [num_dets, '
                    f'num_classes] with num_dets={len(bboxes)}, got shape '
                    f'{cls_probs.shape}')
            record['cls_probs'] = cls_probs
        if not (len(record['scores']) == len(record['labels']) ==
                len(bboxes)):
            raise ValueError(
                'pred_instances fields disagree in length: bboxes '
                f"{len(bboxes)}, scores {len(record['scores'])}, labels "
                f"{len(record['labels'])}")
        return record

    def _ground_truth_record(self, data_sample: dict) -> Dict[str, Any]:
        source = self.gt_source
        if source == 'auto':
            source = ('instances' if data_sample.get('instances') is not None
                      else 'gt_instances')
        if source == 'instances':
            return _gt_from_instances(data_sample)
        return self._gt_from_gt_instances(data_sample)

    def _gt_from_gt_instances(self, data_sample: dict) -> Dict[str, Any]:
        if data_sample.get('gt_instances') is None:
            raise KeyError(
                f"{type(self).__name__}: the data sample has neither "
                "'instances' nor 'gt_instances'; keep LoadAnnotations in the "
                'test pipeline so PackDetInputs packs the ground truth.')
        gt = data_sample['gt_instances']
        ignored = data_sample.get('ignored_instances') or {}
        record = dict(
            gt_bboxes=_boxes(_get(gt, 'bboxes', np.zeros((0, 4)))),
            gt_labels=_to_numpy(_get(gt, 'labels', np.zeros(0)),
                                np.int64).reshape(-1),
            ignored_bboxes=_boxes(_get(ignored, 'bboxes', np.zeros((0, 4)))),
            ignored_labels=_to_numpy(_get(ignored, 'labels', np.zeros(0)),
                                     np.int64).reshape(-1))
        if self.gt_coords == 'resized':
            scale_factor = data_sample.get('scale_factor')
            if scale_factor is None:
                raise KeyError("gt_coords='resized' needs 'scale_factor' in "
                               "the data sample's metainfo (PackDetInputs "
                               'meta_keys).')
            record['gt_bboxes'] = _to_original_frame(record['gt_bboxes'],
                                                     data_sample)
            record['ignored_bboxes'] = _to_original_frame(
                record['ignored_bboxes'], data_sample)
        else:
            _check_original_frame(record['gt_bboxes'], data_sample,
                                  type(self).__name__)
        return record

    # ------------------------------------------------------------------
    # relabelling and output
    def check_labels(self, record: Dict[str, Any]) -> None:
        """Refuse class indices outside the dataset's classes."""
        num_classes = len(self.class_names)
        for field in ('labels', 'gt_labels', 'ignored_labels'):
            values = record[field]
            if len(values) and (values.min() < 0
                                or values.max() >= num_classes):
                raise ValueError(
                    f'{type(self).__name__}: {field} of image '
                    f"{record['img_id']} hold class indices in "
                    f'[{values.min()}, {values.max()}] but the dataset has '
                    f'{num_classes} classes {self.class_names}')

    def decision_labels(self, record: Dict[str, Any]) -> np.ndarray:
        """The labels used for scoring: the model's, or the Bayes
        minimum-risk ones when ``bayes_relabel`` is on (checks the labels
        first)."""
        self.check_labels(record)
        if not self.bayes_relabel or len(record['labels']) == 0:
            return record['labels']
        self.check_cls_probs(record)
        return bayes_min_risk_labels(record['cls_probs'], self.cost_matrix)

    def check_cls_probs(self, record: Dict[str, Any]) -> None:
        num_classes = len(self.class_names)
        if record['cls_probs'] is None:
            raise KeyError(CLS_PROBS_HELP.format(metric=type(self).__name__))
        if (len(record['cls_probs'])
                and record['cls_probs'].shape[1] != num_classes):
            raise ValueError(
                f'pred_instances.cls_probs has {record["cls_probs"].shape[1]}'
                f' columns but the dataset has {num_classes} classes '
                f'{self.class_names}; cls_probs must hold object classes '
                'only, in dataset class order (no background column).')

    def resolve_output_dir(self) -> Optional[str]:
        if self.output_dir is not None:
            return self.output_dir
        log_file = getattr(MMLogger.get_current_instance(), 'log_file', None)
        return osp.dirname(log_file) if log_file else None

    def dump_json(self, payload: dict, filename: str) -> Optional[str]:
        """Write ``payload`` to ``<output dir>/<filename>``; returns the path
        (None when there is no output dir)."""
        output_dir = self.resolve_output_dir()
        if output_dir is None:
            return None
        path = osp.join(output_dir, filename)
        with atomic_write(path) as file:
            json.dump(jsonable(payload), file, indent=2)
        print_log(f'{type(self).__name__}: wrote {path}', logger='current')
        return path


def resolve_dataset_cost_matrix(cost_spec: dict,
                                dataset_classes: Sequence[str],
                                owner: str) -> np.ndarray:
    """Resolve a cost spec into an N x N matrix in dataset class order."""
    from csdet.cost.matrix import resolve_cost_matrix

    dataset_classes = tuple(dataset_classes)
    spec_classes = cost_spec.get('classes') or dataset_classes
    spec = dict(cost_spec, classes=list(spec_classes))
    matrix = np.asarray(resolve_cost_matrix(**spec), dtype=np.float64)
    if tuple(spec_classes) != dataset_classes:
        if sorted(spec_classes) != sorted(dataset_classes):
            raise ValueError(
                f'{owner}: classes={list(spec_classes)} do not match the '
                f'dataset classes {list(dataset_classes)}; drop `classes` '
                'to use the dataset order.')
        order = [list(spec_classes).index(name) for name in dataset_classes]
        matrix = matrix[np.ix_(order, order)]
    num_classes = len(dataset_classes)
    if matrix.shape != (num_classes, num_classes):
        raise ValueError(
            f'{owner}: cost matrix has shape {matrix.shape} but the dataset '
            f'has {num_classes} classes {list(dataset_classes)}.')
    return matrix


def _gt_from_instances(data_sample: dict) -> Dict[str, Any]:
    kept_boxes: List[Sequence[float]] = []
    kept_labels: List[int] = []
    ignored_boxes: List[Sequence[float]] = []
    ignored_labels: List[int] = []
    for instance in data_sample['instances']:
        if instance.get('ignore_flag', 0):
            ignored_boxes.append(instance['bbox'])
            ignored_labels.append(instance['bbox_label'])
        else:
            kept_boxes.append(instance['bbox'])
            kept_labels.append(instance['bbox_label'])
    return dict(
        gt_bboxes=_boxes(kept_boxes),
        gt_labels=np.asarray(kept_labels, dtype=np.int64),
        ignored_bboxes=_boxes(ignored_boxes),
        ignored_labels=np.asarray(ignored_labels, dtype=np.int64))


def _to_original_frame(bboxes: np.ndarray, data_sample: dict) -> np.ndarray:
    """Undo the test-time letterbox/resize on ground-truth boxes the way the
    csdet/mmdet heads undo it on predictions: subtract the padding
    ``pad_param`` = [top, bottom, left, right] when present, then divide by
    ``scale_factor`` = (w_scale, h_scale)."""
    pad_param = data_sample.get('pad_param')
    if pad_param is not None:
        top, _, left, _ = (float(value) for value in pad_param)
        bboxes = bboxes - np.array([left, top, left, top])
    scale = np.tile(
        np.asarray(data_sample['scale_factor'], dtype=np.float64)[:2], 2)
    return bboxes / scale


def _check_original_frame(gt_bboxes: np.ndarray, data_sample: dict,
                          owner: str) -> None:
    """Catch gt_instances left in the resized frame: boxes well outside the
    original image cannot be original-frame annotations."""
    ori_shape = data_sample.get('ori_shape')
    img_shape = data_sample.get('img_shape')
    if (ori_shape is None or img_shape is None or len(gt_bboxes) == 0
            or tuple(ori_shape[:2]) == tuple(img_shape[:2])):
        return
    height, width = ori_shape[:2]
    margin = 1.05
    if (gt_bboxes[:, [0, 2]].max() > width * margin + 1
            or gt_bboxes[:, [1, 3]].max() > height * margin + 1):
        raise ValueError(
            f'{owner}: gt_instances boxes reach beyond the original image '
            f'{width}x{height} (ori_shape) although gt_coords="original"; '
            'they look resized (LoadAnnotations before Resize in the test '
            "pipeline). Set gt_coords='resized', or move LoadAnnotations "
            "after Resize, or keep 'instances' in PackDetInputs meta_keys.")
