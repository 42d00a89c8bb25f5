# YOLOv5l (Ultralytics v7.0): yolov5s with depth 1.0, width 1.0.
_base_ = './yolov5s.py'

deepen_factor = 1.0
widen_factor = 1.0
model = dict(deepen_factor=deepen_factor, widen_factor=widen_factor)
