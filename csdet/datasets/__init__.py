from . import transforms  # noqa: F401
from .neu_det import NEU_DET_CLASSES, NEUDETDataset  # noqa: F401
