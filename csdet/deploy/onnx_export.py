"""Export a csdet detector to ONNX with everything needed to run it.

YOLOv5 (csdet's ``YOLOv5Head``) and SSD (``SSDHead`` / csdet's
``CSSSDHead``) are exported from the data preprocessor's output (``N x 3 x
H x W`` float32) to the head's raw maps; decoding and NMS run in NumPy
(:mod:`csdet.deploy.onnx_runtime`, where the contract is described). The
file's ``metadata_props`` carry the input/output names, input size,
classes, normalisation, the prior layout (YOLOv5 anchors and strides, SSD
base anchors, strides and box coder), ``test_cfg`` and the test pipeline's
resize step, so the file alone is enough to run it.

Faster R-CNN is refused (:class:`ExportNotSupported`; :data:`UNSUPPORTED`
says what blocks it).
"""
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmdet.registry import MODELS

from csdet.utils.atomic import atomic_path
from csdet.version import __version__
from .onnx_runtime import FORMAT

INPUT_NAME = 'images'
DEFAULT_OPSET = 18
#: Gross-error guard right after export, on a random input (raw outputs,
#: onnxruntime vs PyTorch): ``|ort - torch| <= EXPORT_ATOL + EXPORT_RTOL *
#: |torch|``. Float32 rounding alone reaches ~1e-4 on deep trained-scale
#: activations; a wrong graph is off by far more.
EXPORT_ATOL = 1e-3
EXPORT_RTOL = 1e-3

SUPPORTED = ('YOLOv5', 'SSD')
#: Why the other detectors do not export (model kind -> reason).
UNSUPPORTED = {
    'FasterRCNN': (
        "Faster R-CNN runs mmcv's NMS (RPN proposals) and RoIAlign inside "
        'the network, on a data-dependent number of proposals. With '
        "torch.onnx's exporter (torch.export) the trace stops at that "
        "data-dependent size (GuardOnDataDependentSymNode); the legacy "
        "TorchScript exporter freezes the RPN's NMS result as constants (no "
        "NonMaxSuppression node: the same proposals for every image) and "
        "mmcv 2.1's RoIAlign symbolic writes Squeeze with an 'axes' "
        'attribute that onnxruntime rejects at opset >= 13; and mmdet 3.3\'s '
        'box decoding imports the removed mmdet.core.export while '
        'exporting. Use the PyTorch checkpoint (csdet.apis) instead'),
}
class ExportNotSupported(RuntimeError):
    """The model cannot be exported; the message says what blocks it."""


# ---------------------------------------------------------------- model
def build_detector(cfg: Config,
                   checkpoint: Optional[str] = None) -> torch.nn.Module:
    """Build ``cfg.model`` in the mmdet scope, load ``checkpoint`` (strict),
    eval mode on CPU. Without a checkpoint the weights are the model's own
    initialisation (``init_weights``).

    Raises:
        ValueError: the checkpoint does not fit the config's model.
    """
    import csdet  # noqa: F401  (registers the csdet modules)
    from csdet.utils.runner_setup import init_weights_quietly

    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    if checkpoint is None:
        init_weights_quietly(model)
    else:
        from mmengine.runner import load_checkpoint
        try:
            load_checkpoint(model, checkpoint, map_location='cpu',
                            strict=True, logger='silent')
        except RuntimeError as error:
            raise ValueError(
                f'{checkpoint} does not fit the model of the config '
                f'({error}); give the config it was trained with') from None
    return model.eval()


def _kind(detector_cls: type, head_cls: Optional[type]) -> str:
    from mmdet.models.dense_heads import SSDHead
    from mmdet.models.detectors import TwoStageDetector

    from csdet.models.dense_heads.yolov5_head import YOLOv5Head
    if isinstance(head_cls, type) and issubclass(head_cls, YOLOv5Head):
        return 'YOLOv5'
    if isinstance(head_cls, type) and issubclass(head_cls, SSDHead):
        return 'SSD'
    if issubclass(detector_cls, TwoStageDetector):
        return 'FasterRCNN'
    return detector_cls.__name__


def model_kind(model: torch.nn.Module) -> str:
    """``'YOLOv5'``, ``'SSD'``, ``'FasterRCNN'`` or the class name."""
    return _kind(type(model), type(getattr(model, 'bbox_head', None)))


def config_kind(cfg: Config) -> str:
    """:func:`model_kind` of the model ``cfg`` would build, without building
    it."""
    import csdet  # noqa: F401  (registers the csdet modules)

    init_default_scope('mmdet')
    head = cfg.model.get('bbox_head')
    return _kind(MODELS.get(cfg.model.type),
                 MODELS.get(head['type']) if head else None)


def _refuse(kind: str) -> None:
    if kind in SUPPORTED:
        return
    reason = UNSUPPORTED.get(
        kind, f'only {" and ".join(SUPPORTED)} detectors export')
    raise ExportNotSupported(f'cannot export {kind} to ONNX: {reason}.')


def check_exportable(model: torch.nn.Module) -> None:
    """Raise :class:`ExportNotSupported` unless ``model`` is a YOLOv5 or
    SSD."""
    _refuse(model_kind(model))


class RawOutputs(torch.nn.Module):
    """``images [N, 3, H, W]`` -> the head's raw maps, a flat tuple
    (YOLOv5: one per level; SSD: the class maps, then the box maps)."""

    def __init__(self, detector: torch.nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outputs = self.detector.bbox_head(self.detector.extract_feat(images))
        return tuple(output for group in outputs for output in group)


def output_names(model: torch.nn.Module) -> List[str]:
    """Names of :class:`RawOutputs`' outputs."""
    head = model.bbox_head
    if model_kind(model) == 'YOLOv5':
        return [f'raw_s{stride}' for stride in head.featmap_strides]
    levels = range(head.prior_generator.num_levels)
    return [f'cls_l{level}' for level in levels] + [
        f'box_l{level}' for level in levels
    ]


# ------------------------------------------------------------- settings
def config_classes(cfg: Config) -> List[str]:
    """Class names of a loaded config: ``classes``, else the test dataset's
    ``metainfo.classes``, else its dataset class's ``METAINFO``."""
    if cfg.get('classes'):
        return list(cfg.classes)
    dataset = _innermost_dataset(cfg.get('test_dataloader') or {})
    classes = (dataset.get('metainfo') or {}).get('classes')
    if not classes:
        from mmdet.registry import DATASETS
        dataset_cls = DATASETS.get(dataset.get('type', ''))
        classes = getattr(dataset_cls, 'METAINFO', {}).get('classes')
    if not classes:
        raise ValueError('the config names no classes (classes=..., or the '
                         "test dataset's metainfo); set classes=(...)")
    return list(classes)


def _innermost_dataset(loader: dict) -> dict:
    dataset = loader.get('dataset') or {}
    while isinstance(dataset.get('dataset'), dict):
        dataset = dataset['dataset']
    return dataset


def _plain(value: Any) -> Any:
    """ConfigDict/tuples -> JSON-ready dicts/lists."""
    return json.loads(json.dumps(value, default=list))


RESIZE_STEPS = ('LetterBox', 'Resize')


def pipeline_resize(cfg: Config) -> Dict[str, Any]:
    """The test pipeline's resize step (``LetterBox`` or ``Resize``) with
    its ``type`` and ``scale`` as [w, h].

    Raises:
        ValueError: the test pipeline has neither.
    """
    dataset = _innermost_dataset(cfg.get('test_dataloader') or {})
    for step in dataset.get('pipeline') or []:
        kind = str(step.get('type', '')).split('.')[-1]
        if kind in RESIZE_STEPS:
            params = dict(_plain(step), type=kind)
            scale = params.get('scale', 640)
            params['scale'] = ([scale, scale] if isinstance(scale, int) else
                               list(scale))
            return params
    raise ValueError('the test pipeline has no LetterBox or Resize step to '
                     'take the input size from')


def resized_size(params: Dict[str, Any]) -> Tuple[int, int]:
    """(H, W) the resize step gives an image of exactly its ``scale``."""
    scale_w, scale_h = params['scale']
    if params['type'] == 'Resize' or params.get('pad_to', 'full') == 'full':
        return scale_h, scale_w
    stride = params.get('size_divisor', 32)
    extra = params.get('extra_pad_ratio', 0.0)
    return (int(np.ceil(scale_h / stride + extra)) * stride,
            int(np.ceil(scale_w / stride + extra)) * stride)


def normalization(cfg: Config) -> Dict[str, Any]:
    """mean, std, bgr_to_rgb, pad_value, pad_size_divisor of the model's
    data preprocessor."""
    pre = cfg.model.get('data_preprocessor') or {}
    return dict(
        mean=list(pre.get('mean') or [0.0, 0.0, 0.0]),
        std=list(pre.get('std') or [1.0, 1.0, 1.0]),
        bgr_to_rgb=bool(pre.get('bgr_to_rgb', False)),
        pad_value=float(pre.get('pad_value', 0.0)),
        pad_size_divisor=int(pre.get('pad_size_divisor', 1)))


def default_input_size(cfg: Config) -> Tuple[int, int]:
    """(H, W) of the network input for a test image of the resize step's
    ``scale``, rounded up to the preprocessor's ``pad_size_divisor``."""
    divisor = normalization(cfg)['pad_size_divisor']
    return tuple(  # type: ignore[return-value]
        int(np.ceil(side / divisor) * divisor)
        for side in resized_size(pipeline_resize(cfg)))


def _prior_layout(model: torch.nn.Module) -> Dict[str, Any]:
    head = model.bbox_head
    if model_kind(model) == 'YOLOv5':
        return dict(strides=[int(s) for s in head.featmap_strides],
                    anchors=head.anchors.tolist())
    generator = head.prior_generator
    coder = head.bbox_coder
    return dict(
        strides=[[float(v) for v in stride] for stride in generator.strides],
        base_anchors=[anchors.tolist() for anchors in
                      generator.base_anchors],
        # SSDHead decodes with DeltaXYWHBBoxCoder.decode's default clip
        bbox_coder=dict(means=list(coder.means), stds=list(coder.stds),
                        clip_border=bool(coder.clip_border),
                        wh_ratio_clip=16 / 1000))


def onnx_metadata(cfg: Config, model: torch.nn.Module,
                  input_size: Tuple[int, int], dynamic_axes: Sequence[str],
                  opset: int, config_path: str,
                  checkpoint: Optional[str]) -> Dict[str, str]:
    """The ``metadata_props`` of an export (values JSON-encoded)."""
    kind = model_kind(model)
    resize = pipeline_resize(cfg)
    if resized_size(resize) != tuple(input_size):
        # another size than the pipeline's: a plain letterbox to it
        resize = dict(
            type='LetterBox', scale=[input_size[1], input_size[0]],
            pad_to='full', pad_val=resize.get('pad_val', 114.0),
            interpolation=resize.get('interpolation', 'auto'),
            allow_scale_up=resize.get('allow_scale_up', True))
    norm = normalization(cfg)
    values = dict(
        format=FORMAT,
        model_type=kind,
        input_name=INPUT_NAME,
        outputs=output_names(model),
        input_size=list(input_size),
        dynamic_axes=list(dynamic_axes),
        classes=config_classes(cfg),
        normalization=norm,
        test_cfg=_plain(model.bbox_head.test_cfg or {}),
        resize=resize,
        **_prior_layout(model))
    if kind == 'YOLOv5':
        outputs = ('one raw map per level, stride strides[l]: N x A*(5+C) x '
                   'H/s x W/s logits, anchor-major, per anchor [x, y, w, h, '
                   'obj, cls_0..cls_C-1]')
    else:
        outputs = ('per level a class map N x A*(C+1) x H_l x W_l (logits, '
                   'background last), then per level a box map N x A*4 x '
                   'H_l x W_l (deltas to the base_anchors grid)')
    meta = {key: value if isinstance(value, str) else json.dumps(value)
            for key, value in values.items()}
    meta.update(
        input_contract=(
            f'{INPUT_NAME}: N x 3 x H x W float32; uint8 BGR pixels '
            'resized as "resize", '
            f"{'BGR->RGB, ' if norm['bgr_to_rgb'] else ''}"
            '(x - mean) / std, padded at the bottom/right with pad_value '
            'to H x W (input_size unless dynamic)'),
        output_contract=(
            f'{outputs}; decode and NMS as csdet/deploy/onnx_runtime.py '
            'does (the PyTorch head\'s predict_by_feat in NumPy)'),
        config=os.path.basename(config_path),
        checkpoint=(os.path.basename(checkpoint)
                    if checkpoint else 'none (initial weights)'),
        csdet_version=__version__,
        torch_version=torch.__version__,
        opset=str(opset))
    return meta


# --------------------------------------------------------------- export
def _dynamic_shapes(dynamic_batch: bool, dynamic_shape: bool,
                    max_stride: int) -> Optional[tuple]:
    axes = {}
    if dynamic_batch:
        axes[0] = torch.export.Dim('batch', min=1, max=4096)
    if dynamic_shape:
        axes[2] = max_stride * torch.export.Dim('height_blocks', min=1,
                                                max=512)
        axes[3] = max_stride * torch.export.Dim('width_blocks', min=1,
                                                max=512)
    return (axes, ) if axes else None


def _write_metadata(path: Path, metadata: Dict[str, str]) -> None:
    import onnx

    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def output_errors(path: Path, wrapper: torch.nn.Module,
                  inputs: torch.Tensor) -> Tuple[float, bool]:
    """(largest absolute difference, within tolerance) between
    onnxruntime's and PyTorch's raw outputs on ``inputs``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path),
                                   providers=['CPUExecutionProvider'])
    with torch.no_grad():
        expected = [output.numpy() for output in wrapper(inputs)]
    actual = session.run(None, {INPUT_NAME: inputs.numpy()})
    error = max(float(np.abs(a - e).max()) for a, e in zip(actual, expected))
    close = all(
        np.allclose(a, e, rtol=EXPORT_RTOL, atol=EXPORT_ATOL)
        for a, e in zip(actual, expected))
    return error, close


def _input_size(model: torch.nn.Module, cfg: Config,
                img_size: Optional[int],
                dynamic_shape: bool) -> Tuple[int, int]:
    """(H, W) to trace at; refuses sizes and options the model cannot
    take."""
    size = default_input_size(cfg)
    if model_kind(model) == 'SSD':
        if dynamic_shape or (img_size is not None
                             and (img_size, img_size) != size):
            raise ValueError(
                f'SSD exports at its configured {size[0]} x {size[1]} input '
                'only (its anchors are laid out for that size); drop '
                '--img-size / --dynamic-shape')
        return size
    max_stride = max(model.bbox_head.featmap_strides)
    if img_size is not None:
        size = (int(img_size), int(img_size))
    if min(size) <= 0 or size[0] % max_stride or size[1] % max_stride:
        raise ValueError(f'--img-size {size[0]} must be a positive multiple '
                         f'of the largest stride {max_stride}')
    return size


def export_onnx(config_path: str,
                checkpoint: Optional[str],
                out: str,
                img_size: Optional[int] = None,
                dynamic_batch: bool = False,
                dynamic_shape: bool = False,
                opset: int = DEFAULT_OPSET,
                cfg_options: Optional[dict] = None) -> Dict[str, Any]:
    """Export a config + checkpoint to ``out``: :func:`export_model` of the
    model the config builds (loaded with
    ``csdet.utils.runner_setup.load_config``) with ``checkpoint`` (None:
    initial weights) loaded."""
    from csdet.utils.runner_setup import load_config

    cfg = load_config(config_path, cfg_options)
    _refuse(config_kind(cfg))
    model = build_detector(cfg, checkpoint)
    return export_model(model, cfg, out, img_size, dynamic_batch,
                        dynamic_shape, opset, config_path, checkpoint)


def export_model(model: torch.nn.Module,
                 cfg: Config,
                 out: str,
                 img_size: Optional[int] = None,
                 dynamic_batch: bool = False,
                 dynamic_shape: bool = False,
                 opset: int = DEFAULT_OPSET,
                 config_path: str = '',
                 checkpoint: Optional[str] = None) -> Dict[str, Any]:
    """Export a built detector to ``out`` (written whole or not at all: a
    temporary file renamed into place).

    Args:
        model: the detector (eval mode), built from ``cfg``.
        cfg: its loaded config (classes, data preprocessor, test pipeline).
        out: the ``.onnx`` path.
        img_size: square input side, a multiple of the largest stride
            (YOLOv5 only); default the config's test input
            (:func:`default_input_size`).
        dynamic_batch: the batch axis is dynamic (else 1).
        dynamic_shape: height and width are dynamic, multiples of the
            largest stride (YOLOv5 only).
        opset: ONNX opset.
        config_path, checkpoint: recorded in the metadata.

    Returns:
        ``path``, ``metadata``, ``max_abs_error`` (onnxruntime vs PyTorch
        on the trace input) and ``input_shape``.

    Raises:
        ExportNotSupported: not a YOLOv5 or SSD (the reason is in the
            message).
        ValueError: bad size or option, or outputs that differ from
            PyTorch beyond ``EXPORT_ATOL``/``EXPORT_RTOL``.
    """
    check_exportable(model)
    model.eval()
    size = _input_size(model, cfg, img_size, dynamic_shape)
    names = output_names(model)
    wrapper = RawOutputs(model).eval()
    generator = torch.Generator().manual_seed(0)
    inputs = torch.rand(2 if dynamic_batch else 1, 3, *size,
                        generator=generator)
    dynamic_axes = (['batch'] if dynamic_batch else []) + (
        ['height', 'width'] if dynamic_shape else [])
    metadata = onnx_metadata(cfg, model, size, dynamic_axes, opset,
                             config_path, checkpoint)
    # dynamic spatial axes: YOLOv5 only (checked by _input_size)
    max_stride = (max(model.bbox_head.featmap_strides)
                  if dynamic_shape else 1)

    path = Path(out)
    with atomic_path(path) as temporary:
        with torch.no_grad():
            torch.onnx.export(
                wrapper, (inputs, ),
                str(temporary),
                input_names=[INPUT_NAME],
                output_names=names,
                opset_version=opset,
                dynamo=True,
                external_data=False,
                dynamic_shapes=_dynamic_shapes(dynamic_batch, dynamic_shape,
                                               int(max_stride)),
                verbose=False)
        _write_metadata(temporary, metadata)
        error, close = output_errors(temporary, wrapper, inputs)
        if not close:
            raise ValueError(
                f'the exported graph differs from PyTorch by up to '
                f'{error:.3g} on the trace input (tolerance {EXPORT_ATOL:g} '
                f'+ {EXPORT_RTOL:g} x |value|); {path} not written')
    return dict(path=path, metadata=metadata, max_abs_error=error,
                input_shape=[
                    'batch' if dynamic_batch else 1, 3,
                    'height' if dynamic_shape else size[0],
                    'width' if dynamic_shape else size[1]
                ])
