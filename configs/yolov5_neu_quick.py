# Quick CPU run of configs/yolov5_neu.py: YOLOv5n, batch 16, 20 epochs,
# lr 0.01 (the Ultralytics default lr0; the paper's 0.002 is tuned for 90
# epochs), one evaluation at the end. For smoke tests and demos, not for
# paper numbers.
#   python tools/train.py configs/yolov5_neu_quick.py
_base_ = './yolov5_neu.py'

model = dict(deepen_factor=0.33, widen_factor=0.25)  # yolov5n
train_dataloader = dict(batch_size=16)
optim_wrapper = dict(optimizer=dict(lr=0.01))
train_cfg = dict(max_epochs=20, val_interval=20)
