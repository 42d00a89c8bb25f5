# Cost-sensitive Faster R-CNN R50-FPN on NEU-DET: faster-rcnn_r50_fpn_neu.py
# with the RoI head's class loss replaced by the cost-sensitive loss
# (softmax form of paper Eq. 12-13); the RPN keeps its objectness loss.
_base_ = './faster-rcnn_r50_fpn_neu.py'

model = dict(roi_head=dict(bbox_head=dict(loss_cls={{_base_.cs_loss_cls}})))
