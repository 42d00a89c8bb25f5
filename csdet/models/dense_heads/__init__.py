from .yolov5_head import YOLOv5Head  # noqa: F401
from .cs_ssd_head import CSSSDHead  # noqa: F401
