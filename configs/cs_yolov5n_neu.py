# CS-YOLOv5n variant of configs/cs_yolov5_neu.py (depth 0.33, width 0.25).
_base_ = './cs_yolov5_neu.py'

model = dict(deepen_factor=0.33, widen_factor=0.25)
