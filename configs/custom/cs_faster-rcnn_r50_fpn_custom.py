# CS-Faster R-CNN on your own data: the same data and cost lines as
# yolov5_custom.py on top of configs/cs_faster-rcnn_r50_fpn_neu.py.
_base_ = '../cs_faster-rcnn_r50_fpn_neu.py'

dataset_type = 'DefectDataset'
data_root = 'data/my_defects/'
train_ann_file = 'annotations/train.json'
test_ann_file = 'annotations/test.json'
cost = dict(positive_classes=['crack'])
img_size = 640
train_cfg = dict(max_epochs=24)
