# Quick CPU run of configs/faster-rcnn_r50_fpn_neu.py: the images at their
# native 200 x 200 instead of 2x, RPN anchors halved to match (scale 4:
# every box meets the same anchors as at 400 px), one epoch with a
# 50-iteration warmup + cosine. Not for accuracy.
#   python tools/train.py configs/faster-rcnn_r50_fpn_neu_quick.py
_base_ = './faster-rcnn_r50_fpn_neu.py'

img_size = 200
model = dict(rpn_head=dict(anchor_generator=dict(scales=[4])))
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = {{_base_.quick_param_scheduler}}
