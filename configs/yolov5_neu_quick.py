# Quick CPU run of configs/yolov5_neu.py: YOLOv5n, batch 16, 20 epochs,
# lr 0.01 (the Ultralytics default lr0; the paper's 0.002 is tuned for 90
# epochs), one evaluation at the end. For smoke tests and demos, not for
# paper numbers.
#   python tools/train.py configs/yolov5_neu_quick.py
# Measured on this project's 2-core CPU (2026-11-30, one run at a time):
# training about 10.5 min (1,880 iterations, ~0.3 s each), evaluation on
# the 300 test images 16 s. Two runs side by side with one thread each took
# 26 min each, so on 2 cores run them one after the other.
_base_ = './yolov5_neu.py'

max_epochs = 20
model = dict(deepen_factor=0.33, widen_factor=0.25)  # yolov5n
train_dataloader = dict(batch_size=16)
optim_wrapper = dict(optimizer=dict(lr=0.01))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
