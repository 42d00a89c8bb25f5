"""mmengine checkpoints: find the one a path names, load it safely.

:func:`find_checkpoint` is the one lookup of the tools (train/test/compare
and the sweep): a work dir names its checkpoint in mmengine's
``last_checkpoint`` file.

PyTorch >= 2.6 loads with ``weights_only=True`` by default, and mmengine
0.10.7 does not pass the flag, so its own checkpoints (resume, load_from)
fail on the pickled objects they hold (``HistoryBuffer`` from the message
hub, numpy arrays and scalars inside it). Turning the safety off would let a
checkpoint file execute arbitrary code; instead the few classes mmengine
checkpoints really contain are allow-listed here. Anything else (for
example an ``os.system`` reduce in a crafted file) is still refused.

``getattr`` is on the list because ``HistoryBuffer.__getstate__`` pickles its
statistics methods as ``getattr(HistoryBuffer, 'mean')``. That is safe under
the weights-only unpickler: it only *calls* allow-listed functions (REDUCE),
so an attribute fetched with ``getattr`` can be stored but never invoked.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from mmengine.runner import find_latest_checkpoint


def find_checkpoint(path: str | Path) -> Path | None:
    """The checkpoint ``path`` names, or None when there is none.

    ``path`` may be a checkpoint file, a work dir or its ``last_checkpoint``
    file. A work dir's checkpoint is the one its ``last_checkpoint`` names
    (mmengine's :func:`find_latest_checkpoint`); that path as written, which
    is relative to where the training ran if its work dir was, else the
    same file name inside the dir (a moved or copied work dir); without a
    usable pointer, the dir's newest ``*.pth``.
    """
    path = Path(path)
    if path.name == 'last_checkpoint' and path.is_file():
        path = path.parent
    elif path.is_file():
        return path
    if not path.is_dir():
        return None
    if (path / 'last_checkpoint').is_file():  # else mmengine logs a miss
        target = Path(find_latest_checkpoint(str(path)))
        for candidate in (target, path / target.name):
            if candidate.is_file():
                return candidate
    checkpoints = sorted(path.glob('*.pth'), key=lambda p: p.stat().st_mtime)
    return checkpoints[-1] if checkpoints else None


def checkpoint_safe_globals() -> list:
    """The classes and functions an mmengine/csdet checkpoint may pickle."""
    from mmengine.logging import HistoryBuffer

    numpy_core = np._core if hasattr(np, '_core') else np.core
    dtype_classes = [
        cls for cls in vars(np.dtypes).values()
        if isinstance(cls, type) and issubclass(cls, np.dtype)
    ]
    return [
        getattr,
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        numpy_core.multiarray._reconstruct,
        numpy_core.multiarray.scalar,
        *dtype_classes,
    ]


def register_checkpoint_safe_globals() -> None:
    """Allow-list :func:`checkpoint_safe_globals` for ``torch.load``."""
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
