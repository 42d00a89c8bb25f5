# Quick CPU run of CS-SSD300: ssd300_neu_quick.py with the cost-sensitive
# class loss.
_base_ = './ssd300_neu_quick.py'

model = dict(bbox_head=dict(loss_cls={{_base_.cs_loss_cls}}))
