# YOLOv5x (Ultralytics v7.0): yolov5s with depth 1.33, width 1.25.
_base_ = './yolov5s.py'

deepen_factor = 1.33
widen_factor = 1.25
model = dict(deepen_factor=deepen_factor, widen_factor=widen_factor)
