from .yolov5 import YOLOv5  # noqa: F401
