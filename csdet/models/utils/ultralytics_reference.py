"""The Ultralytics YOLOv5 reference: import it offline, unpickle its weights.

Ultralytics checkpoints (``yolov5s.pt``, ``runs/train/*/weights/best.pt``)
pickle the whole model, so reading one needs the reference's classes: the
PyPI package ``yolov5`` (7.0.x, classes under ``yolov5.models``) is used.
Checkpoints written by a clone of the GitHub repository name the same classes
``models.yolo.DetectionModel``, ``models.common.Conv``, ...; they are
resolved to ``yolov5.models.*``.

Offline import: ``yolov5.utils.general`` imports ``check_requirements`` from
the ``ultralytics`` package, whose import probes the internet (DNS servers)
and writes a settings file. csdet never needs that function, so while the
reference is imported a stand-in module provides one that refuses to
install anything; the real ``ultralytics`` is used instead if it was already
imported. ``YOLOv5_AUTOINSTALL`` is set to false.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import os
import pickle
import sys
import types
import warnings
from pathlib import Path
from typing import Iterator, Union

import torch
import torch.nn as nn

REFERENCE_VERSION = '7.0.14'

INSTALL_HINT = (
    f'install the YOLOv5 reference: `pip install --no-deps yolov5=='
    f'{REFERENCE_VERSION}` plus `pip install pandas seaborn requests psutil` '
    '(tools/setup_env.sh installs it into .venv/reference; put that folder '
    'on PYTHONPATH or pass --reference .venv/reference to the converter)')

# Top-level packages of the GitHub layout, found under yolov5.* in the
# PyPI package.
_GITHUB_PACKAGES = ('models', 'utils')

_STAND_IN_MODULES = ('ultralytics', 'ultralytics.utils',
                     'ultralytics.utils.checks')

#: what an Ultralytics checkpoint may hold the model under
CHECKPOINT_SOURCES = ('auto', 'ema', 'model')


class ReferenceNotInstalledError(ImportError):
    """The YOLOv5 reference package (or one of its dependencies) is absent."""


def _refuse_requirements(*args, **kwargs):
    raise RuntimeError(
        'the YOLOv5 reference tried to install Python packages '
        f'({args[0] if args else kwargs}); csdet imports it offline: install '
        'what it needs yourself')


@contextlib.contextmanager
def _offline_ultralytics() -> Iterator[None]:
    """Stand in for ``ultralytics.utils.checks`` during the import."""
    if 'ultralytics.utils.checks' in sys.modules:
        yield
        return
    added = []
    for name in _STAND_IN_MODULES:
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)
            added.append(name)
    checks = sys.modules['ultralytics.utils.checks']
    checks.check_requirements = _refuse_requirements
    try:
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def _open_file_handlers() -> list:
    # logging's own registry of live handlers: the very list dictConfig
    # closes (MMLogger instances are not in logging's logger dict).
    handlers = [ref() for ref in logging._handlerList]
    return [handler for handler in handlers
            if isinstance(handler, logging.FileHandler)
            and handler.stream is not None]


@contextlib.contextmanager
def _keep_log_files_open() -> Iterator[None]:
    """Reopen (append) the log files the reference's import-time
    ``logging.config.dictConfig`` closes, e.g. a Runner's log."""
    handlers = _open_file_handlers()
    try:
        yield
    finally:
        for handler in handlers:
            if handler.stream is None:
                handler.setStream(open(handler.baseFilename, 'a',
                                       encoding=handler.encoding))


def import_yolov5_reference() -> types.SimpleNamespace:
    """Import the reference's model, loss and NMS modules, offline.

    Returns:
        SimpleNamespace: ``yolo`` (``yolov5.models.yolo``: ``Model``,
        ``Detect``), ``general`` (``yolov5.utils.general``:
        ``non_max_suppression``), ``loss`` (``yolov5.utils.loss``:
        ``ComputeLoss``) and ``root`` (the package folder, with the bundled
        model yaml files under ``models/``).

    Raises:
        ReferenceNotInstalledError: ``yolov5`` or one of its import-time
            dependencies is missing; the message says what to install.
    """
    os.environ.setdefault('YOLOv5_AUTOINSTALL', 'false')
    try:
        with _offline_ultralytics(), _keep_log_files_open(), \
                warnings.catch_warnings():
            # yolov5.utils.general imports the deprecated pkg_resources.
            warnings.filterwarnings('ignore', message='pkg_resources',
                                    category=UserWarning)
            yolo = importlib.import_module('yolov5.models.yolo')
            general = importlib.import_module('yolov5.utils.general')
            loss = importlib.import_module('yolov5.utils.loss')
    except ModuleNotFoundError as exc:
        if exc.name == 'yolov5' or (exc.name or '').startswith('yolov5.'):
            raise ReferenceNotInstalledError(
                f'the YOLOv5 reference package is not importable; '
                f'{INSTALL_HINT}') from exc
        raise ReferenceNotInstalledError(
            f'the YOLOv5 reference needs the module {exc.name!r}, which is '
            f'not installed; {INSTALL_HINT}') from exc
    root = Path(yolo.__file__).resolve().parents[1]
    return types.SimpleNamespace(yolo=yolo, general=general, loss=loss,
                                 root=root)


class _ReferenceUnpickler(pickle.Unpickler):
    """Resolves the GitHub layout's ``models.*`` / ``utils.*`` classes."""

    def find_class(self, module: str, name: str):
        if module.split('.', 1)[0] in _GITHUB_PACKAGES:
            module = f'yolov5.{module}'
        return super().find_class(module, name)


def _pickle_module() -> types.ModuleType:
    module = types.ModuleType('csdet_ultralytics_pickle')
    module.Unpickler = _ReferenceUnpickler
    module.load = lambda file, **kwargs: _ReferenceUnpickler(
        file, **kwargs).load()
    return module


def load_ultralytics_model(path: Union[str, Path],
                           source: str = 'auto') -> nn.Module:
    """The model pickled in an Ultralytics YOLOv5 checkpoint, float32, eval.

    Unpickling runs code from the file: only convert checkpoints you trust.

    Args:
        path: ``.pt`` file written by Ultralytics' train.py (a dict with
            ``'model'`` and ``'ema'``, models stored in half precision).
        source: ``'ema'``, ``'model'`` or ``'auto'`` (the EMA model when the
            file holds one, else ``'model'``, as the reference's
            ``attempt_load``; released weights keep the EMA in ``'model'``).

    Returns:
        nn.Module: the reference ``DetectionModel`` in float32, eval mode.

    Raises:
        FileNotFoundError: no such file.
        ReferenceNotInstalledError: see :func:`import_yolov5_reference`.
        ValueError: not an Ultralytics checkpoint, or ``source`` absent.
    """
    path = Path(path)
    if source not in CHECKPOINT_SOURCES:
        raise ValueError(f'source={source!r} must be one of '
                         f'{CHECKPOINT_SOURCES}')
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no such checkpoint file')
    import_yolov5_reference()
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=False,
                          pickle_module=_pickle_module())
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise ValueError(f'{path}: not a readable PyTorch checkpoint '
                         f'({exc})') from exc
    if isinstance(ckpt, nn.Module):
        model = ckpt
    elif isinstance(ckpt, dict) and ('model' in ckpt or 'ema' in ckpt):
        model = _pick_model(ckpt, source, path)
    else:
        raise ValueError(
            f'{path}: not an Ultralytics YOLOv5 checkpoint (expected a dict '
            "with 'model' / 'ema' models, as train.py saves)")
    if not isinstance(model, nn.Module):
        raise ValueError(f'{path}: the checkpoint\'s model is a '
                         f'{type(model).__name__}, not a torch module')
    return model.float().eval()


def _pick_model(ckpt: dict, source: str, path: Path) -> nn.Module:
    if source == 'auto':
        source = 'ema' if ckpt.get('ema') is not None else 'model'
    model = ckpt.get(source)
    if model is None:
        held = [key for key in ('ema', 'model') if ckpt.get(key) is not None]
        raise ValueError(f'{path}: the checkpoint has no {source!r} model '
                         f'(it holds: {held or "none"})')
    return model
