# YOLOv5s on NEU-DET (the CS-YOLOv5 paper's baseline): 192 px, SGD lr 0.002
# cosine, weight decay 5e-4, batch 230, 90 epochs, Mosaic.
#   python tools/train.py configs/yolov5_neu.py
#   python tools/train.py configs/yolov5_neu.py \
#       --cfg-options train_dataloader.batch_size=16      # less memory
# (no lr change needed: see configs/_base_/schedules/yolov5_cosine_90e.py)
_base_ = [
    './_base_/models/yolov5s.py',
    './_base_/datasets/defect_coco_yolov5.py',
    './_base_/datasets/neu_det.py',
    './_base_/schedules/yolov5_cosine_90e.py',
    './_base_/default_runtime.py',
]

img_size = 192  # the paper trains NEU-DET at 192 px
train_dataloader = dict(batch_size=230)  # the paper's NEU-DET batch
