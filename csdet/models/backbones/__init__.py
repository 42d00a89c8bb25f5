from .yolov5_cspdarknet import YOLOv5CSPDarknet  # noqa: F401
