from . import transforms  # noqa: F401
from .collate import compact_collate, tensors_from_arrays
from .defect import CategoryMismatchError, DefectDataset
from .mix_dataset import CachedMultiImageMixDataset
from .neu_det import NEU_DET_CLASSES, NEUDETDataset

__all__ = ['CachedMultiImageMixDataset', 'CategoryMismatchError',
           'DefectDataset', 'NEU_DET_CLASSES', 'NEUDETDataset',
           'compact_collate', 'tensors_from_arrays']
