from . import transforms  # noqa: F401
from .defect import CategoryMismatchError, DefectDataset
from .neu_det import NEU_DET_CLASSES, NEUDETDataset

__all__ = ['CategoryMismatchError', 'DefectDataset', 'NEU_DET_CLASSES',
           'NEUDETDataset']
