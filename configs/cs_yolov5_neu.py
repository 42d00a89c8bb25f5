# CS-YOLOv5s on NEU-DET: configs/yolov5_neu.py with the cost-sensitive class
# loss (paper Eq. 12-13); the cost matrix is the config's `cost` setting
# (configs/_base_/datasets/neu_det.py: group a, r = 0.75).
_base_ = './yolov5_neu.py'

model = dict(bbox_head=dict(loss_cls={{_base_.cs_loss_cls}}))
