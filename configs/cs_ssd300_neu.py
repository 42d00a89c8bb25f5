# Cost-sensitive SSD300 on NEU-DET: ssd300_neu.py with the class loss
# replaced by the cost-sensitive loss (softmax form of paper Eq. 12-13);
# CSSSDHead keeps SSD's 3:1 hard-negative mining.
_base_ = './ssd300_neu.py'

model = dict(bbox_head=dict(loss_cls={{_base_.cs_loss_cls}}))
