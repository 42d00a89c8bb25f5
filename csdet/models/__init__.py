from . import (backbones, dense_heads, detectors, layers, losses,  # noqa: F401
               necks, roi_heads)
