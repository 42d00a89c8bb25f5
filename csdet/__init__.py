"""csdet: cost-sensitive defect detection on MMDetection 3.x.

Importing the package registers every csdet module (losses, models, datasets,
transforms, metrics, hooks) into MMDetection's registries, which is what a
config's ``custom_imports = dict(imports=['csdet'])`` relies on.
"""
from .version import __version__
from .utils.checkpoint import register_checkpoint_safe_globals

register_checkpoint_safe_globals()

from . import cost, datasets, engine, evaluation, models  # noqa: E402,F401

__all__ = ['__version__']
