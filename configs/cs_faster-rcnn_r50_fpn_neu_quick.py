# Quick CPU run of CS-Faster R-CNN: faster-rcnn_r50_fpn_neu_quick.py with
# the cost-sensitive RoI-head class loss.
_base_ = './faster-rcnn_r50_fpn_neu_quick.py'

model = dict(roi_head=dict(bbox_head=dict(loss_cls={{_base_.cs_loss_cls}})))
