# Quick CPU run of CS-YOLOv5: configs/yolov5_neu_quick.py with the
# cost-sensitive class loss (the `make demo` config).
#   python tools/train.py configs/cs_yolov5_neu_quick.py
_base_ = './yolov5_neu_quick.py'

model = dict(bbox_head=dict(loss_cls={{_base_.cs_loss_cls}}))
