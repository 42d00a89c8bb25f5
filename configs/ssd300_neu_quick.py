# Quick CPU run of configs/ssd300_neu.py: one epoch (188 iterations at
# batch 8) with a 50-iteration warmup and a cosine decay, one evaluation at
# the end. For smoke tests and the short detector comparison in README
# (tools/compare.py), not for accuracy: SSD's VGG16 from scratch needs many
# epochs. cs_ssd300_neu_quick.py is this file with the cost-sensitive loss.
#   python tools/train.py configs/ssd300_neu_quick.py
_base_ = './ssd300_neu.py'

max_epochs = 1
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', eta_min_ratio=0.01, begin=0,
         end=max_epochs, by_epoch=True, convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
