# YOLOv5s on your own COCO-format defect set, with the NEU-DET recipe's
# model, augmentation and evaluators. Set the values below; everything else
# follows them (README, "Your own data"). cs_yolov5_custom.py is this file
# with the cost-sensitive loss.
_base_ = '../yolov5_neu.py'

dataset_type = 'DefectDataset'
data_root = 'data/my_defects/'  # holds images/ and annotations/
train_ann_file = 'annotations/train.json'
val_ann_file = None  # None: validate on the test split
test_ann_file = 'annotations/test.json'
classes = None  # None: the train file's categories; a tuple fixes the order
cost = dict(positive_classes=['crack'], group='a', ratio=0.75)
img_size = 320  # a multiple of 32
train_dataloader = dict(batch_size=16)
train_cfg = dict(max_epochs=100, val_interval=10)
