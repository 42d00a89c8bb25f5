from .yolov5_pafpn import YOLOv5PAFPN  # noqa: F401
