"""Export a csdet detector to ONNX with everything needed to run it.

YOLOv5 (csdet's ``YOLOv5`` detector with ``YOLOv5Head``) is exported from
the data preprocessor's output (``N x 3 x H x W`` float32) to the head's
raw level maps; decoding and NMS run in NumPy
(:mod:`csdet.deploy.onnx_runtime`, the contract is described there). The
file's ``metadata_props`` carry the input/output names, input size,
classes, normalisation, strides, anchors, ``test_cfg`` and the test
pipeline's letterbox, so the file alone is enough to run it.

SSD and Faster R-CNN are refused (:class:`ExportNotSupported`, see
:data:`UNSUPPORTED`): their heads are not csdet's YOLOv5 head and their
post-processing is not implemented outside PyTorch; Faster R-CNN in addition
runs mmcv's NMS and RoIAlign inside the network.
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

#: Why the other csdet detectors do not export (model type -> reason).
UNSUPPORTED = {
    'SSD': ('SSD (SingleStageDetector with CSSSDHead/SSDHead): its network '
            'would trace, but its post-processing (SSD prior boxes, delta '
            'decoding, softmax with a background column, per-level top-k and '
            'multi-class NMS) has no NumPy implementation here, so the file '
            'could not be used without mmdet; only YOLOv5 exports'),
    'FasterRCNN': ('Faster R-CNN (TwoStageDetector): the network itself runs '
                   "mmcv's NMS (RPN proposals) and RoIAlign, C++ extension "
                   'ops that torch.onnx cannot trace, on a data-dependent '
                   'number of proposals per image; only YOLOv5 exports'),
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
    from mmdet.models.detectors import SingleStageDetector, TwoStageDetector

    from csdet.models.dense_heads.yolov5_head import YOLOv5Head
    if isinstance(head_cls, type) and issubclass(head_cls, YOLOv5Head):
        return 'YOLOv5'
    if issubclass(detector_cls, TwoStageDetector):
        return 'FasterRCNN'
    if (issubclass(detector_cls, SingleStageDetector)
            and 'SSD' in getattr(head_cls, '__name__', '')):
        return 'SSD'
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
    if kind == 'YOLOv5':
        return
    reason = UNSUPPORTED.get(
        kind, f'{kind}: only csdet YOLOv5 detectors export to ONNX')
    raise ExportNotSupported(f'cannot export {kind} to ONNX: {reason}.')


def check_exportable(model: torch.nn.Module) -> None:
    """Raise :class:`ExportNotSupported` unless ``model`` is a csdet
    YOLOv5."""
    _refuse(model_kind(model))


class YOLOv5RawOutputs(torch.nn.Module):
    """``images [N, 3, H, W]`` -> the head's raw level maps (a tuple)."""

    def __init__(self, detector: torch.nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        features = self.detector.extract_feat(images)
        return tuple(self.detector.bbox_head(features)[0])


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


def pipeline_letterbox(cfg: Config) -> Optional[Dict[str, Any]]:
    """The test pipeline's ``LetterBox`` arguments (scale as (w, h)), or
    None when it has none."""
    dataset = _innermost_dataset(cfg.get('test_dataloader') or {})
    for step in dataset.get('pipeline') or []:
        if str(step.get('type', '')).split('.')[-1] == 'LetterBox':
            params = {key: value for key, value in _plain(step).items()
                      if key != 'type'}
            scale = params.get('scale', 640)
            params['scale'] = ([scale, scale] if isinstance(scale, int) else
                               list(scale))
            return params
    return None


def letterboxed_size(params: Dict[str, Any]) -> Tuple[int, int]:
    """(H, W) the letterbox gives an image of exactly its ``scale``."""
    scale_w, scale_h = params['scale']
    if params.get('pad_to', 'full') == 'full':
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


def default_input_size(cfg: Config) -> int:
    """Side of the network input a square test image gets: the letterbox's
    padded size, rounded up to the preprocessor's ``pad_size_divisor``."""
    params = pipeline_letterbox(cfg)
    if params is None:
        raise ValueError('the test pipeline has no LetterBox to take the '
                         'input size from; pass --img-size')
    height, width = letterboxed_size(params)
    divisor = normalization(cfg)['pad_size_divisor']
    side = max(height, width)
    return int(np.ceil(side / divisor) * divisor)


def onnx_metadata(cfg: Config, model: torch.nn.Module, input_size: int,
                  dynamic_axes: Sequence[str], output_names: Sequence[str],
                  opset: int, config_path: str,
                  checkpoint: Optional[str]) -> Dict[str, str]:
    """The ``metadata_props`` of an exported YOLOv5 (JSON strings)."""
    head = model.bbox_head
    letterbox = pipeline_letterbox(cfg)
    if letterbox is None or letterboxed_size(letterbox) != (input_size,
                                                           input_size):
        # a size other than the pipeline's: a plain letterbox to it
        letterbox = dict(
            scale=[input_size, input_size], pad_to='full',
            pad_val=(letterbox or {}).get('pad_val', 114.0),
            interpolation=(letterbox or {}).get('interpolation', 'auto'),
            allow_scale_up=(letterbox or {}).get('allow_scale_up', True))
    norm = normalization(cfg)
    values = dict(
        format=FORMAT,
        model_type='YOLOv5',
        input_name=INPUT_NAME,
        outputs=list(output_names),
        input_size=[input_size, input_size],
        dynamic_axes=list(dynamic_axes),
        classes=config_classes(cfg),
        strides=[int(stride) for stride in head.featmap_strides],
        anchors=head.anchors.tolist(),
        normalization=norm,
        test_cfg=_plain(head.test_cfg or {}),
        letterbox=letterbox,
    )
    meta = {key: value if isinstance(value, str) else json.dumps(value)
            for key, value in values.items()}
    meta.update(
        input_contract=(
            f'{INPUT_NAME}: N x 3 x H x W float32; uint8 BGR pixels, '
            f"{'BGR->RGB, ' if norm['bgr_to_rgb'] else ''}"
            '(x - mean) / std, padded at the bottom/right with pad_value '
            'to H x W (input_size unless dynamic). Letterbox (resize and '
            'centred pad) as in "letterbox".'),
        output_contract=(
            'one raw map per level (outputs, stride strides[l]): N x '
            'A*(5+C) x H/s x W/s logits, anchor-major, per anchor [x, y, w, '
            'h, obj, cls_0..cls_C-1]; decode and NMS as '
            'csdet/deploy/onnx_runtime.py (YOLOv5Head.predict_by_feat).'),
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
        img_size: square input side (a multiple of the largest stride);
            default the config's test input (:func:`default_input_size`).
        dynamic_batch: the batch axis is dynamic (else 1).
        dynamic_shape: height and width are dynamic (multiples of the
            largest stride).
        opset: ONNX opset.
        config_path, checkpoint: recorded in the metadata.

    Returns:
        ``path``, ``metadata``, ``max_abs_error`` (onnxruntime vs PyTorch
        on the trace input) and ``input_shape``.

    Raises:
        ExportNotSupported: not a YOLOv5 (the reason is in the message).
        ValueError: bad size, or outputs that differ from PyTorch beyond
            ``EXPORT_ATOL``/``EXPORT_RTOL``.
    """
    check_exportable(model)
    model.eval()
    max_stride = max(model.bbox_head.featmap_strides)
    size = default_input_size(cfg) if img_size is None else int(img_size)
    if size <= 0 or size % max_stride:
        raise ValueError(f'--img-size {size} must be a positive multiple of '
                         f'the largest stride {max_stride}')
    output_names = [f'raw_s{stride}'
                    for stride in model.bbox_head.featmap_strides]
    wrapper = YOLOv5RawOutputs(model).eval()
    generator = torch.Generator().manual_seed(0)
    inputs = torch.rand(2 if dynamic_batch else 1, 3, size, size,
                        generator=generator)
    dynamic_axes = (['batch'] if dynamic_batch else []) + (
        ['height', 'width'] if dynamic_shape else [])
    metadata = onnx_metadata(cfg, model, size, dynamic_axes, output_names,
                             opset, config_path, checkpoint)

    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f'.{path.stem}.tmp{os.getpid()}.onnx')
    try:
        with torch.no_grad():
            torch.onnx.export(
                wrapper, (inputs, ),
                str(temporary),
                input_names=[INPUT_NAME],
                output_names=output_names,
                opset_version=opset,
                dynamo=True,
                external_data=False,
                dynamic_shapes=_dynamic_shapes(dynamic_batch, dynamic_shape,
                                               max_stride),
                verbose=False)
        _write_metadata(temporary, metadata)
        error, close = output_errors(temporary, wrapper, inputs)
        if not close:
            raise ValueError(
                f'the exported graph differs from PyTorch by up to '
                f'{error:.3g} on the trace input (tolerance {EXPORT_ATOL:g} '
                f'+ {EXPORT_RTOL:g} x |value|); {path} not written')
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return dict(path=path, metadata=metadata, max_abs_error=error,
                input_shape=[
                    'batch' if dynamic_batch else 1, 3,
                    'height' if dynamic_shape else size,
                    'width' if dynamic_shape else size
                ])
