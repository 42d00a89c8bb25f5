"""Ultralytics YOLOv5 weights (v6.0+ layout) as a csdet ``YOLOv5`` state dict.

The detection models of Ultralytics v6.0-v7.0 (``yolov5{n,s,m,l,x}.yaml``
and any other depth / width multiple) share one 25-layer graph; csdet's
``YOLOv5CSPDarknet`` + ``YOLOv5PAFPN`` + ``YOLOv5Head`` is the same graph
under other names::

    model.0            backbone.stem          Conv 6x6/2
    model.1, 2         backbone.stage1.0, 1   Conv 3x3/2, C3
    model.3, 4         backbone.stage2.0, 1
    model.5, 6         backbone.stage3.0, 1
    model.7, 8, 9      backbone.stage4.0-2    ..., SPPF
    model.10, 14       neck.reduce_layers.0, 1
    model.13, 17       neck.top_down_blocks.0, 1
    model.18, 21       neck.downsample_layers.0, 1
    model.20, 23       neck.bottom_up_blocks.0, 1
    model.24           bbox_head              Detect: m.i -> convs_pred.i

Inside the blocks: ``Conv`` = ``conv`` + ``bn`` (same names); ``C3``
cv1 / cv2 / cv3 -> main_conv / short_conv / final_conv, m.k.cv1 / cv2 ->
blocks.k.conv1 / conv2; ``SPPF`` cv1 / cv2 / m -> conv1 / conv2 / pool.
``Detect.anchors`` is stored in stride units; csdet's ``bbox_head.anchors``
in pixels (multiplied by the level's stride).

A conversion is checked, not assumed: the reference model's layer types,
inputs, shortcuts, strides and activations must be that graph, and the
result must have exactly the keys, shapes and conv / BN / pool settings of a
csdet ``YOLOv5`` built with the checkpoint's depth, width and class count.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

STRIDES = (8, 16, 32)


class LayerSpec(NamedTuple):
    """One layer of the v6.0+ yaml and where it lives in csdet."""
    type_name: str
    source: Union[int, Tuple[int, ...]]
    csdet_prefix: Optional[str]
    shortcut: Optional[bool] = None  # C3 only


#: ``model.<index>`` of the reference, in index order
LAYOUT: Tuple[LayerSpec, ...] = (
    LayerSpec('Conv', -1, 'backbone.stem'),
    LayerSpec('Conv', -1, 'backbone.stage1.0'),
    LayerSpec('C3', -1, 'backbone.stage1.1', True),
    LayerSpec('Conv', -1, 'backbone.stage2.0'),
    LayerSpec('C3', -1, 'backbone.stage2.1', True),
    LayerSpec('Conv', -1, 'backbone.stage3.0'),
    LayerSpec('C3', -1, 'backbone.stage3.1', True),
    LayerSpec('Conv', -1, 'backbone.stage4.0'),
    LayerSpec('C3', -1, 'backbone.stage4.1', True),
    LayerSpec('SPPF', -1, 'backbone.stage4.2'),
    LayerSpec('Conv', -1, 'neck.reduce_layers.0'),
    LayerSpec('Upsample', -1, None),
    LayerSpec('Concat', (-1, 6), None),
    LayerSpec('C3', -1, 'neck.top_down_blocks.0', False),
    LayerSpec('Conv', -1, 'neck.reduce_layers.1'),
    LayerSpec('Upsample', -1, None),
    LayerSpec('Concat', (-1, 4), None),
    LayerSpec('C3', -1, 'neck.top_down_blocks.1', False),
    LayerSpec('Conv', -1, 'neck.downsample_layers.0'),
    LayerSpec('Concat', (-1, 14), None),
    LayerSpec('C3', -1, 'neck.bottom_up_blocks.0', False),
    LayerSpec('Conv', -1, 'neck.downsample_layers.1'),
    LayerSpec('Concat', (-1, 10), None),
    LayerSpec('C3', -1, 'neck.bottom_up_blocks.1', False),
    LayerSpec('Detect', (17, 20, 23), 'bbox_head'),
)

# Renames inside a layer, applied to "<rest>." (so that module paths and
# parameter names are handled alike); first match wins.
_INNER_RENAMES: Dict[str, Sequence[Tuple[str, str]]] = {
    'Conv': ((r'^(conv|bn)\.', r'\1.'), ),
    'C3': ((r'^cv1\.', 'main_conv.'), (r'^cv2\.', 'short_conv.'),
           (r'^cv3\.', 'final_conv.'),
           (r'^m\.(\d+)\.cv1\.', r'blocks.\1.conv1.'),
           (r'^m\.(\d+)\.cv2\.', r'blocks.\1.conv2.'),
           (r'^m\.(\d+)\.$', r'blocks.\1.'), (r'^m\.$', 'blocks.')),
    'SPPF': ((r'^cv1\.', 'conv1.'), (r'^cv2\.', 'conv2.'),
             (r'^m\.$', 'pool.')),
    'Detect': ((r'^m\.(\d+)\.', r'convs_pred.\1.'), (r'^m\.$', 'convs_pred.'),
               (r'^anchors\.$', 'anchors.')),
}

# Parameters / buffers whose shape depends on the number of classes.
_CLASS_DEPENDENT = re.compile(r'^bbox_head\.convs_pred\.\d+\.(weight|bias)$')


class YOLOv5LayoutError(ValueError):
    """The reference model is not the v6.0+ YOLOv5 detection graph."""


@dataclass
class ConvertedWeights:
    """A csdet ``YOLOv5`` state dict and the model settings it needs.

    ``num_classes`` is the class count of the head weights in
    ``state_dict`` (None once they were dropped); ``source_num_classes``
    the checkpoint's. ``dropped`` lists keys removed by
    :func:`drop_class_dependent`.
    """
    state_dict: Dict[str, Tensor]
    deepen_factor: float
    widen_factor: float
    source_num_classes: int
    num_classes: Optional[int]
    class_names: List[str] = field(default_factory=list)
    dropped: List[str] = field(default_factory=list)


def map_name(name: str) -> Optional[str]:
    """csdet name of a reference parameter / buffer / module path.

    ``'model.2.m.0.cv1.conv.weight'`` ->
    ``'backbone.stage1.1.blocks.0.conv1.conv.weight'``. Returns None for
    names outside the mapped layers (e.g. ``'model.11'``, an Upsample) or
    not of the layer's known parts.
    """
    match = re.match(r'^model\.(\d+)(?:\.(.*))?$', name)
    if match is None:
        return None
    index = int(match.group(1))
    if index >= len(LAYOUT) or LAYOUT[index].csdet_prefix is None:
        return None
    spec = LAYOUT[index]
    rest = match.group(2)
    if rest is None:
        return spec.csdet_prefix
    for pattern, replacement in _INNER_RENAMES[spec.type_name]:
        renamed, count = re.subn(pattern, replacement, rest + '.')
        if count:
            return f'{spec.csdet_prefix}.{renamed[:-1]}'
    return None


def check_layout(model: nn.Module) -> None:
    """Require the v6.0+ detection graph (see :data:`LAYOUT`).

    Raises:
        YOLOv5LayoutError: naming the first layer that differs (v5.0-era
            Focus / SPP models, P6 models, segmentation or classification
            models, other activations).
    """
    layers = getattr(model, 'model', None)
    if not isinstance(layers, nn.Sequential):
        raise YOLOv5LayoutError(
            f'not a YOLOv5 DetectionModel ({type(model).__name__} without a '
            '.model layer sequence)')
    if len(layers) != len(LAYOUT):
        raise YOLOv5LayoutError(
            f'{len(layers)} layers, expected {len(LAYOUT)} (the v6.0+ '
            'yolov5{n,s,m,l,x}.yaml graph; P6 and v5.0 models differ)')
    for index, (layer, spec) in enumerate(zip(layers, LAYOUT)):
        found = type(layer).__name__
        source = layer.f if isinstance(layer.f, int) else tuple(layer.f)
        if found != spec.type_name or source != spec.source:
            raise YOLOv5LayoutError(
                f'layer {index} is {found} from {source}, expected '
                f'{spec.type_name} from {spec.source} (v6.0+ layout)')
        _check_layer(index, layer, spec)
    for name, module in model.named_modules():
        if hasattr(module, 'act') and not isinstance(module.act, nn.SiLU):
            raise YOLOv5LayoutError(
                f'{name}: activation {type(module.act).__name__}; csdet\'s '
                'YOLOv5 uses SiLU throughout')


def _check_layer(index: int, layer: nn.Module, spec: LayerSpec) -> None:
    if spec.type_name == 'C3':
        shortcuts = {bool(block.add) for block in layer.m}
        if shortcuts != {spec.shortcut}:
            raise YOLOv5LayoutError(
                f'layer {index} (C3): bottleneck shortcuts {shortcuts}, '
                f'expected {spec.shortcut}')
    elif spec.type_name == 'Upsample':
        if layer.mode != 'nearest' or float(layer.scale_factor) != 2.0:
            raise YOLOv5LayoutError(
                f'layer {index}: Upsample({layer.scale_factor}, '
                f'{layer.mode!r}), expected nearest 2x')
    elif spec.type_name == 'Concat':
        if layer.d != 1:
            raise YOLOv5LayoutError(
                f'layer {index}: Concat on dim {layer.d}, expected 1')
    elif spec.type_name == 'Detect':
        strides = tuple(int(s) for s in layer.stride.tolist())
        if (layer.nl, layer.na) != (3, 3) or strides != STRIDES:
            raise YOLOv5LayoutError(
                f'Detect: {layer.nl} levels x {layer.na} anchors at strides '
                f'{strides}, expected 3 x 3 at {STRIDES}')
        if layer.no != layer.nc + 5:
            raise YOLOv5LayoutError(
                f'Detect: {layer.no} outputs per anchor for {layer.nc} '
                'classes, expected nc + 5 (a detection, not segmentation, '
                'model)')


def _model_settings(model: nn.Module) -> Tuple[float, float, int, List[str]]:
    yaml = getattr(model, 'yaml', None)
    if not isinstance(yaml, dict) or not {'depth_multiple',
                                          'width_multiple'} <= set(yaml):
        raise YOLOv5LayoutError(
            'the model has no yaml dict with depth_multiple / '
            'width_multiple (not a YOLOv5 DetectionModel)')
    detect = model.model[-1]
    names = getattr(model, 'names', None) or []
    if isinstance(names, dict):
        names = [names[key] for key in sorted(names)]
    return (float(yaml['depth_multiple']), float(yaml['width_multiple']),
            int(detect.nc), [str(name) for name in names])


def build_csdet_yolov5(deepen_factor: float, widen_factor: float,
                       num_classes: int) -> nn.Module:
    """A csdet ``YOLOv5`` detector of the given size (the conversion's
    target; configs/_base_/models/yolov5s.py with its factors overridden)."""
    from ..detectors.yolov5 import YOLOv5
    return YOLOv5(
        backbone=dict(type='YOLOv5CSPDarknet'),
        neck=dict(type='YOLOv5PAFPN'),
        bbox_head=dict(type='YOLOv5Head', num_classes=num_classes),
        deepen_factor=deepen_factor,
        widen_factor=widen_factor)


def convert_state_dict(model: nn.Module) -> ConvertedWeights:
    """Map a reference ``DetectionModel`` to a csdet ``YOLOv5`` state dict.

    Args:
        model: the reference model (any dtype; values are returned as
            float32, integer buffers unchanged).

    Returns:
        ConvertedWeights: every parameter and buffer of the reference,
        renamed; anchors in pixels.

    Raises:
        YOLOv5LayoutError: the graph differs (:func:`check_layout`) or the
            result does not fit a csdet ``YOLOv5`` of the same size exactly.
    """
    check_layout(model)
    deepen, widen, num_classes, names = _model_settings(model)
    state_dict: Dict[str, Tensor] = {}
    unmapped = []
    for name, value in model.state_dict().items():
        target = map_name(name)
        if target is None:
            unmapped.append(name)
            continue
        value = value.detach().clone()
        if value.is_floating_point():
            value = value.float()
        state_dict[target] = value
    if unmapped:
        raise YOLOv5LayoutError(f'reference weights with no csdet place: '
                                f'{unmapped[:10]}')
    detect = model.model[-1]
    strides = detect.stride.float().view(-1, 1, 1)
    state_dict['bbox_head.anchors'] = detect.anchors.float() * strides
    converted = ConvertedWeights(
        state_dict=state_dict, deepen_factor=deepen, widen_factor=widen,
        source_num_classes=num_classes, num_classes=num_classes,
        class_names=names)
    _check_against_csdet(model, converted)
    return converted


def _check_against_csdet(model: nn.Module,
                         converted: ConvertedWeights) -> None:
    target = build_csdet_yolov5(converted.deepen_factor,
                                converted.widen_factor, converted.num_classes)
    expected = target.state_dict()
    got = converted.state_dict
    problems = [f'missing {key}' for key in expected if key not in got]
    problems += [f'unexpected {key}' for key in got if key not in expected]
    problems += [
        f'{key}: {tuple(got[key].shape)} vs csdet {tuple(value.shape)}'
        for key, value in expected.items()
        if key in got and got[key].shape != value.shape
    ]
    csdet_modules = dict(target.named_modules())
    for name, module in model.named_modules():
        settings = _module_settings(module)
        if settings is None:
            continue
        mapped = map_name(name)
        other = csdet_modules.get(mapped) if mapped else None
        if other is None:
            problems.append(f'{name} ({type(module).__name__}) has no csdet '
                            'counterpart')
        elif _module_settings(other) != settings:
            problems.append(f'{name} -> {mapped}: {settings} vs csdet '
                            f'{_module_settings(other)}')
    if problems:
        raise YOLOv5LayoutError(
            'the converted weights do not fit csdet\'s YOLOv5 (depth '
            f'{converted.deepen_factor}, width {converted.widen_factor}, '
            f'{converted.num_classes} classes): ' + '; '.join(problems[:10]))


def _module_settings(module: nn.Module) -> Optional[tuple]:
    """What must agree besides shapes: conv geometry, BN eps, pooling."""
    if isinstance(module, nn.Conv2d):
        return ('Conv2d', tuple(module.kernel_size), tuple(module.stride),
                tuple(module.padding), tuple(module.dilation), module.groups)
    if isinstance(module, nn.BatchNorm2d):
        return ('BatchNorm2d', round(float(module.eps), 12))
    if isinstance(module, nn.MaxPool2d):
        return ('MaxPool2d', module.kernel_size, module.stride,
                module.padding)
    return None


def drop_class_dependent(converted: ConvertedWeights,
                         num_classes: int) -> List[str]:
    """Prepare the weights for a model with ``num_classes`` classes.

    The head's output convs hold box, objectness and class rows for each
    anchor, so their shapes depend on the class count. When ``num_classes``
    differs from the checkpoint's, they are removed (as Ultralytics' train.py
    drops shape-mismatched keys when fine-tuning): the csdet model keeps its
    own initialisation for them (PyTorch default plus the YOLOv5 bias
    priors). Nothing is removed when the counts agree.

    Returns:
        list[str]: the removed keys (empty when nothing changed).

    Raises:
        ValueError: ``num_classes`` < 1.
    """
    if num_classes < 1:
        raise ValueError(f'num_classes={num_classes} must be >= 1')
    if num_classes == converted.num_classes or converted.num_classes is None:
        return []
    dropped = sorted(key for key in converted.state_dict
                     if _CLASS_DEPENDENT.match(key))
    for key in dropped:
        del converted.state_dict[key]
    converted.dropped.extend(dropped)
    converted.num_classes = None
    return dropped
