"""Run a trained csdet detector on new images and decide what to do with
each detection by the cost matrix."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import cv2
import numpy as np
import torch

ImageInput = Union[str, os.PathLike, np.ndarray]


@dataclass
class ImageResult:
    """Detections of one image and the decision taken on each.

    Shapes (D detections, N classes): ``bboxes [D, 4]`` xyxy in original
    pixels, ``labels [D]`` the model's class, ``scores [D]``, ``cls_probs
    [D, N]``, ``decisions [D]`` the decided class or N ("no defect"),
    ``expected_costs [D]`` the expected cost of that decision.
    """
    source: str
    classes: tuple
    bboxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    cls_probs: np.ndarray
    decisions: np.ndarray
    expected_costs: np.ndarray
    image_size: tuple = field(default=(0, 0))  # (height, width)

    @property
    def no_defect(self) -> int:
        return len(self.classes)

    @property
    def defects(self) -> np.ndarray:
        """Indices of the detections decided as a defect class."""
        return np.flatnonzero(self.decisions != self.no_defect)

    def decided_names(self) -> List[str]:
        names = list(self.classes) + ['no defect']
        return [names[int(k)] for k in self.decisions]

    def to_coco(self, image_id: int) -> List[Dict[str, Any]]:
        """COCO results-format entries (category_id = label + 1) with the
        class probabilities and the decision as extra fields."""
        names = self.decided_names()
        entries = []
        for index, (x1, y1, x2, y2) in enumerate(self.bboxes.tolist()):
            entries.append(dict(
                image_id=image_id, category_id=int(self.labels[index]) + 1,
                bbox=[x1, y1, x2 - x1, y2 - y1],
                score=float(self.scores[index]),
                cls_probs=[float(p) for p in self.cls_probs[index]],
                decision=names[index],
                expected_cost=float(self.expected_costs[index])))
        return entries


def as_bgr(image: np.ndarray, source: str) -> np.ndarray:
    """A grey (H x W or H x W x 1) or BGR uint8 array as H x W x 3 BGR."""
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise ValueError(f'{source}: expected an H x W (grey) or H x W x 3 '
                         f'(BGR) array, got {getattr(image, "shape", image)}')
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] != 3:
        raise ValueError(f'{source}: expected 1 or 3 channels, got '
                         f'{image.shape[2]}')
    return image


def read_image(path: Union[str, os.PathLike]) -> np.ndarray:
    """Decode an image file as BGR; raises ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no such file')
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        raise ValueError(f'{path}: empty file')
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f'{path}: not a decodable image')
    return image


def default_device() -> str:
    return 'cuda:0' if torch.cuda.is_available() else 'cpu'


class DefectDetector:
    """A trained detector plus the deployment decision rule.

    Args:
        config: config path (or a loaded :class:`mmengine.Config`).
        checkpoint: a ``.pth`` file, a work dir (its last checkpoint) or an
            ``.onnx`` file from ``tools/export.py``.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``...; None = CUDA when
            available.
        decision: ``'min-risk'`` (default), ``'argmax'`` or a thresholds
            JSON path / dict (see :func:`csdet.cost.build_decision_rule`).
        score_thr: the threshold of ``'argmax'``.
        cfg_options: config overrides, as ``--cfg-options``.

    Raises:
        csdet.utils.runner_setup.UserInputError: missing config or
            checkpoint, or a bad decision spec, with the fix.
    """

    def __init__(self, config: Any, checkpoint: str,
                 device: Optional[str] = None,
                 decision: Any = 'min-risk', score_thr: float = 0.25,
                 cfg_options: Optional[dict] = None) -> None:
        from mmengine.config import Config

        from csdet.utils.runner_setup import (UserInputError, load_config,
                                              resolve_checkpoint)
        if isinstance(config, Config):
            from csdet.utils.config import resolve_config
            cfg = resolve_config(config)
        else:
            cfg = load_config(str(config), cfg_options)
        self.cfg = cfg
        self.device = device or default_device()
        self.classes = tuple(cfg.classes)
        if str(checkpoint).endswith('.onnx'):
            from .onnx_backend import OnnxBackend
            self.backend = OnnxBackend(cfg, checkpoint)
        else:
            self.backend = TorchBackend(cfg, resolve_checkpoint(checkpoint),
                                        self.device)
        self.decision_rule = build_rule(cfg, decision, score_thr,
                                        UserInputError)

    def palette(self) -> List[tuple]:
        """One RGB colour per class, from the config's dataset metainfo."""
        import copy

        from mmdet.registry import DATASETS
        from mmengine.registry import init_default_scope
        from csdet.datasets.defect import default_palette
        init_default_scope('mmdet')
        dataset = copy.deepcopy(self.cfg.test_dataloader.dataset)
        dataset['lazy_init'] = True
        try:
            palette = DATASETS.build(dataset).metainfo.get('palette')
        except Exception:  # a dataset without metainfo: still draw
            palette = None
        if not palette or len(palette) < len(self.classes):
            palette = default_palette(len(self.classes))
        return [tuple(colour) for colour in palette]

    def __call__(self, images: Union[ImageInput, Sequence[ImageInput]],
                 batch_size: int = 1
                 ) -> Union[ImageResult, List[ImageResult]]:
        """Detect and decide on one image or a list of them."""
        single = isinstance(images, (str, os.PathLike, np.ndarray))
        items = [images] if single else list(images)
        results = list(self.iter_results(items, batch_size))
        return results[0] if single else results

    def iter_results(self, images: Sequence[ImageInput],
                     batch_size: int = 1) -> Iterator[ImageResult]:
        """Yield one :class:`ImageResult` per image, in order."""
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size]
            sources = [_source_name(image, start + i)
                       for i, image in enumerate(batch)]
            arrays = [as_bgr(image, name) if isinstance(image, np.ndarray)
                      else read_image(image)
                      for image, name in zip(batch, sources)]
            for source, array, det in zip(sources, arrays,
                                          self.backend(arrays)):
                yield self._decide(source, array, det)

    def _decide(self, source: str, image: np.ndarray,
                det: Dict[str, np.ndarray]) -> ImageResult:
        decided = self.decision_rule(det['labels'], det['scores'],
                                     det['cls_probs'])
        return ImageResult(
            source=source, classes=self.classes, bboxes=det['bboxes'],
            labels=det['labels'], scores=det['scores'],
            cls_probs=det['cls_probs'], decisions=decided.labels,
            expected_costs=decided.expected_costs,
            image_size=tuple(image.shape[:2]))


def _source_name(image: ImageInput, index: int) -> str:
    if isinstance(image, np.ndarray):
        return f'array_{index}'
    return str(image)


def build_rule(cfg, decision: Any, score_thr: float, error_type: type):
    """The config's deployment cost matrix bound to a decision rule."""
    from csdet.cost.decision import deployment_cost_matrix
    from csdet.cost.deploy_decision import build_decision_rule
    from csdet.utils.config import cost_spec
    spec = cost_spec(cfg.get('cost'))
    matrix = deployment_cost_matrix(
        cfg.classes, positive_classes=spec['positive_classes'],
        group=spec['group'], coefficients=spec['coefficients'],
        cost_matrix=spec['matrix'], normalize=spec['normalize'],
        missed_costs=spec['missed_cost'],
        false_alarm_costs=spec['false_alarm_cost'])
    try:
        return build_decision_rule(decision, matrix, cfg.classes, score_thr)
    except (OSError, ValueError, TypeError) as error:
        raise error_type(f'--decision {decision}: {error}') from None


class TorchBackend:
    """The PyTorch model behind :class:`DefectDetector`: mmdet's
    ``init_detector`` and the config's test pipeline, batched."""

    def __init__(self, cfg, checkpoint: str, device: str) -> None:
        from mmdet.apis import init_detector
        from mmengine.dataset import Compose
        from mmdet.utils import get_test_pipeline_cfg

        from csdet.models.utils import inference_copy
        # Conv+BN fused where the config asks (YOLOv5 test_cfg)
        self.model = inference_copy(
            init_detector(cfg, checkpoint, device=device))
        pipeline = get_test_pipeline_cfg(cfg.copy())
        pipeline[0] = dict(type='LoadImageFromNDArray')
        self.pipeline = Compose(pipeline)

    @torch.no_grad()
    def __call__(self, images: Sequence[np.ndarray]
                 ) -> List[Dict[str, np.ndarray]]:
        from mmengine.dataset import pseudo_collate
        data = pseudo_collate([self.pipeline(dict(img=image, img_id=index))
                               for index, image in enumerate(images)])
        outputs = []
        for sample in self.model.test_step(data):
            pred = sample.pred_instances
            outputs.append(dict(
                bboxes=pred.bboxes.cpu().numpy().astype(np.float64),
                labels=pred.labels.cpu().numpy().astype(np.int64),
                scores=pred.scores.cpu().numpy().astype(np.float64),
                cls_probs=pred.cls_probs.cpu().numpy().astype(np.float64)))
        return outputs
