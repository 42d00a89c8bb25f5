"""Mixed precision that keeps each optimizer wrapper's own semantics.

``tools/train.py --amp`` used to replace any wrapper type with mmengine's
``AmpOptimWrapper``. For :class:`YOLOv5OptimWrapper` that silently dropped
the YOLOv5 recipe (summed accumulation, a count that ramps during warmup,
the scheduler hook's accumulation control). :func:`amp_optim_wrapper_type`
maps each known wrapper to an AMP variant with the same semantics instead,
and refuses unknown ones.
"""
from __future__ import annotations

from typing import NoReturn, Optional, Type, Union

from mmdet.registry import OPTIM_WRAPPERS
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from .yolov5_optim_constructor import YOLOv5OptimWrapper


@OPTIM_WRAPPERS.register_module()
class AmpYOLOv5OptimWrapper(YOLOv5OptimWrapper, AmpOptimWrapper):
    """:class:`YOLOv5OptimWrapper` with mmengine's mixed precision.

    Method resolution gives, per method:

    - from :class:`YOLOv5OptimWrapper`: ``scale_loss`` (identity: gradients
      are summed over the accumulated batches), ``should_update`` /
      ``should_sync`` / ``set_accumulate`` (variable accumulation count),
      ``step`` (records the step, then calls the AMP step),
      ``initialize_count_status``;
    - from ``AmpOptimWrapper``: ``backward`` through the gradient scaler,
      ``step`` with unscale-before-clip, scaler update and skipped steps on
      inf/NaN gradients, ``optim_context`` under ``autocast``, and the
      scaler in ``state_dict`` / ``load_state_dict``.

    Being a ``YOLOv5OptimWrapper``, it is driven by
    ``YOLOv5ParamSchedulerHook`` (warmup accumulation ramp) and
    ``optimizer_stepped`` like the plain one.

    Args: those of ``AmpOptimWrapper`` (``loss_scale``, ``dtype``,
    ``use_fsdp``) and ``OptimWrapper`` (``optimizer``, ``clip_grad``, ...).
    Like ``AmpOptimWrapper`` it needs a GPU (or NPU / MLU / MUSA).
    """


# Non-AMP wrapper -> its AMP variant. AMP wrappers map to themselves so that
# the mapping can be applied to a config that already uses one.
_AMP_VARIANTS = {
    OptimWrapper: AmpOptimWrapper,
    YOLOv5OptimWrapper: AmpYOLOv5OptimWrapper,
    AmpOptimWrapper: AmpOptimWrapper,
    AmpYOLOv5OptimWrapper: AmpYOLOv5OptimWrapper,
}


def amp_optim_wrapper_type(
        type_name: Optional[Union[str, Type[OptimWrapper]]]
) -> Union[str, Type[OptimWrapper]]:
    """The AMP wrapper type that keeps ``type_name``'s semantics.

    ``OptimWrapper`` -> ``AmpOptimWrapper``, ``YOLOv5OptimWrapper`` ->
    ``AmpYOLOv5OptimWrapper``; an AMP type maps to itself. A registry scope
    prefix (``'mmengine.OptimWrapper'``) is kept on the result; a class
    gives a class.

    Args:
        type_name: ``optim_wrapper.type`` of a config (name or class).

    Raises:
        ValueError: ``type_name`` is None (the config must name its
            wrapper: the default depends on the optimizer constructor) or
            a wrapper without a known AMP variant.
    """
    if isinstance(type_name, type):
        if type_name in _AMP_VARIANTS:
            return _AMP_VARIANTS[type_name]
        return _unknown(type_name.__name__)
    if not type_name:
        raise ValueError(
            '--amp: optim_wrapper has no "type"; name the wrapper in the '
            "config (e.g. type='YOLOv5OptimWrapper' or type='OptimWrapper') "
            'so that its AMP variant can be chosen')
    scope, _, name = str(type_name).rpartition('.')
    by_name = {cls.__name__: amp for cls, amp in _AMP_VARIANTS.items()}
    if name not in by_name:
        return _unknown(str(type_name))
    prefix = f'{scope}.' if scope else ''
    return prefix + by_name[name].__name__


def _unknown(name: str) -> NoReturn:
    known = ', '.join(f'{cls.__name__} -> {amp.__name__}'
                      for cls, amp in _AMP_VARIANTS.items() if cls is not amp)
    raise ValueError(
        f'--amp: no AMP variant is known for optim_wrapper type {name!r} '
        f'(known: {known}); add one to csdet/engine/optimizers/'
        'amp_optim_wrapper.py or train without --amp')
