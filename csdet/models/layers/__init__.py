from .yolov5_layers import SPPF, yolov5_c3, yolov5_conv  # noqa: F401
