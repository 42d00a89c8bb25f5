# CS-YOLOv5s on your own data: yolov5_custom.py (set your data there) with
# the cost-sensitive class loss.
_base_ = './yolov5_custom.py'

model = dict(bbox_head=dict(loss_cls={{_base_.cs_loss_cls}}))
