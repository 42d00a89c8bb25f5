from . import (backbones, dense_heads, detectors, layers, losses, necks,  # noqa: F401
               task_modules)
from . import roi_heads  # noqa: F401
