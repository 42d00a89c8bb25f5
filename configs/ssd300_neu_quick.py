# Quick CPU run of configs/ssd300_neu.py: one epoch (188 iterations at
# batch 8), 50-iteration warmup + cosine, one evaluation at the end. For
# smoke tests and the short detector comparison in README, not for
# accuracy: SSD's VGG16 from scratch needs many epochs.
#   python tools/train.py configs/ssd300_neu_quick.py
_base_ = './ssd300_neu.py'

train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = {{_base_.quick_param_scheduler}}
