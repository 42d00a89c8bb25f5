# YOLOv5n (Ultralytics v7.0): yolov5s with depth 0.33, width 0.25.
_base_ = './yolov5s.py'

deepen_factor = 0.33
widen_factor = 0.25
model = dict(deepen_factor=deepen_factor, widen_factor=widen_factor)
