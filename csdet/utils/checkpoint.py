"""Load mmengine checkpoints with ``torch.load(weights_only=True)``.

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

import numpy as np
import torch


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
