# Quick CPU run of configs/cs_yolov5_neu.py: its cost-sensitive loss with
# the short schedule of configs/yolov5_neu_quick.py (the block below is that
# file's; tests/test_configs/test_yolov5_configs.py checks that the two
# quick configs differ only in loss_cls).
#   python tools/train.py configs/cs_yolov5_neu_quick.py
_base_ = './cs_yolov5_neu.py'

max_epochs = 20
model = dict(deepen_factor=0.33, widen_factor=0.25)  # yolov5n
train_dataloader = dict(batch_size=16)
optim_wrapper = dict(optimizer=dict(lr=0.01))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
