# YOLOv5m variant of configs/yolov5_neu.py (depth 0.67, width 0.75).
_base_ = './yolov5_neu.py'

model = dict(deepen_factor=0.67, widen_factor=0.75)
