# Template for any COCO-format defect dataset, e.g. the paper's private
# 4-class paint-defect set. Copy this file and change ONLY the four values
# below; the pipeline, loaders and evaluator come from neu_det.py.
# Layout expected under data_root: images/ + the two annotation files, with
# the JSON's categories listed in exactly the order of `classes` (CocoDataset
# numbers labels in the file's order). Detector configs must also set the
# head's num_classes to len(classes).
_base_ = './neu_det.py'

data_root = 'data/paint_defects/'
classes = ('dust', 'pit', 'sag', 'scratch')
train_ann_file = 'annotations/train.json'
test_ann_file = 'annotations/test.json'

# Re-bind the values above: base-file variables are resolved when read.
dataset_type = 'CocoDataset'
metainfo = dict(classes=classes)
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, metainfo=metainfo,
    ann_file=train_ann_file))
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, metainfo=metainfo,
    ann_file=test_ann_file))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + test_ann_file)
test_evaluator = val_evaluator
