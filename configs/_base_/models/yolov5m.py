# YOLOv5m (Ultralytics v7.0): yolov5s with depth 0.67, width 0.75.
_base_ = './yolov5s.py'

deepen_factor = 0.67
widen_factor = 0.75
model = dict(deepen_factor=deepen_factor, widen_factor=widen_factor)
