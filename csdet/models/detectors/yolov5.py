"""YOLOv5 detector: mmdet's single-stage pipeline, registered by name."""
import copy
import weakref
from typing import Callable, Optional, Union

import torch
from mmcv.cnn import fuse_conv_bn
from mmdet.models.detectors.single_stage import SingleStageDetector
from mmdet.registry import MODELS

#: YOLOv5 model -> its compiled backbone + neck (compile_features)
_COMPILED_FEATURES: 'weakref.WeakKeyDictionary' = weakref.WeakKeyDictionary()


def _apply_scale(component: dict, name: str, key: str, value: Optional[float],
                 component_name: str) -> dict:
    """Set ``component[key] = value`` unless it already holds another value."""
    if value is None:
        return component
    current = component.get(key)
    if current is not None and current != value:
        raise ValueError(
            f'YOLOv5: {name}={value} given on the detector but '
            f'{component_name}.{key}={current}; set it in one place (the '
            'detector-level value is meant for all components)')
    component[key] = value
    return component


@MODELS.register_module()
class YOLOv5(SingleStageDetector):
    """YOLOv5 (Ultralytics v7.0) = backbone -> neck -> head.

    mmdet's ``SingleStageDetector`` (same arguments; ``train_cfg`` /
    ``test_cfg`` go to :class:`csdet.models.dense_heads.YOLOv5Head`), usually
    with ``YOLOv5CSPDarknet``, ``YOLOv5PAFPN`` and ``YOLOv5Head``.

    Extra args:
        deepen_factor (float, optional): depth multiple d, copied into
            ``backbone`` and ``neck`` (n/s 0.33, m 0.67, l 1.0, x 1.33).
        widen_factor (float, optional): width multiple w, copied into
            ``backbone``, ``neck`` and ``bbox_head`` (n 0.25, s 0.5, m 0.75,
            l 1.0, x 1.25). A component setting another value is an error.
        channels_last (bool): :meth:`loss` runs on a channels-last copy of
            the batch (faster CPU convolutions; same losses up to float
            rounding; weights and inference unchanged).
        compile_features (bool | dict): in training mode the backbone +
            neck run through ``torch.compile`` (a dict: its keyword
            arguments; default ``dynamic=False``, one graph per batch
            shape), compiled at the first training call; losses equal up to
            float rounding; eval, weights and state dicts unchanged.
            (mmengine's ``cfg.compile`` would compile the whole train step,
            whose loss changes shape with every batch's box count.)
        test_cfg['fuse_conv_bn'] (bool, default True, not passed to the
            head): tools/test.py (``FuseConvBNHook``) and ``DefectDetector``
            run :meth:`fuse_for_inference` on the loaded model.

    Shapes: inputs (N, 3, H, W), H and W multiples of 32, RGB in [0, 1] after
    the data preprocessor; ``predict`` returns DetDataSamples whose
    ``pred_instances`` hold ``bboxes``, ``scores``, ``labels`` and
    ``cls_probs`` (num_dets, num_classes).
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 bbox_head: dict,
                 deepen_factor: Optional[float] = None,
                 widen_factor: Optional[float] = None,
                 channels_last: bool = False,
                 compile_features: Union[bool, dict] = False,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        test_cfg = dict(test_cfg or {})
        fuse = bool(test_cfg.pop('fuse_conv_bn', True))
        backbone, neck, bbox_head = (copy.deepcopy(backbone),
                                     copy.deepcopy(neck),
                                     copy.deepcopy(bbox_head))
        for component, component_name in ((backbone, 'backbone'),
                                          (neck, 'neck')):
            _apply_scale(component, 'deepen_factor', 'deepen_factor',
                         deepen_factor, component_name)
        for component, component_name in ((backbone, 'backbone'),
                                          (neck, 'neck'),
                                          (bbox_head, 'bbox_head')):
            _apply_scale(component, 'widen_factor', 'widen_factor',
                         widen_factor, component_name)
        super().__init__(
            backbone=backbone,
            neck=neck,
            bbox_head=bbox_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg or None,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.deepen_factor = deepen_factor
        self.widen_factor = widen_factor
        self.channels_last = channels_last
        self.compile_features = compile_features
        self.fuse_conv_bn = fuse
        self.is_fused = False

    def loss(self, batch_inputs: torch.Tensor,
             batch_data_samples: list) -> dict:
        if self.channels_last:
            batch_inputs = batch_inputs.contiguous(
                memory_format=torch.channels_last)
        return super().loss(batch_inputs, batch_data_samples)

    def extract_feat(self, batch_inputs: torch.Tensor) -> tuple:
        if self.compile_features and self.training:
            return self._compiled_extract_feat()(self, batch_inputs)
        return super().extract_feat(batch_inputs)

    def _compiled_extract_feat(self) -> Callable:
        # kept outside the module (deep copies for the EMA and pickles never
        # see a compiled function; a copy compiles its own when it trains),
        # unbound (the entry does not keep the model alive)
        compiled = _COMPILED_FEATURES.get(self)
        if compiled is None:
            options = dict(dynamic=False)
            if isinstance(self.compile_features, dict):
                options.update(self.compile_features)
            compiled = torch.compile(SingleStageDetector.extract_feat,
                                     **options)
            _COMPILED_FEATURES[self] = compiled
        return compiled

    def fuse_for_inference(self) -> 'YOLOv5':
        """Fold every BatchNorm into the conv before it (mmcv's
        ``fuse_conv_bn``, the reference's ``fuse()``), in place, and switch
        to eval mode. Outputs equal the unfused eval outputs up to float
        rounding. The model is inference-only afterwards: ``train()`` raises
        and its state dict no longer loads into an unfused model, so fuse a
        copy of a model that is still being trained.
        """
        if not self.is_fused:
            with torch.no_grad():
                fuse_conv_bn(self)
            self.is_fused = True
        return self.eval()

    def train(self, mode: bool = True) -> 'YOLOv5':
        if mode and getattr(self, 'is_fused', False):
            raise RuntimeError(
                'YOLOv5: this model has its BatchNorm folded into the convs '
                '(fuse_for_inference) and can only run inference; train a '
                'model built from the config (or fuse a copy)')
        return super().train(mode)
