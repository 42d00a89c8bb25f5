# NEU-DET in COCO format, as written by
#   python tools/dataset_converters/neu_det.py \
#       --src ../shared/datasets/NEU-DET --out data/NEU-DET
# (1,500 train / 300 test images, 200 x 200 grey JPEGs, six classes).
# The test split doubles as the validation split, as in the paper.
#
# Detector configs replace the pipeline in one block, e.g.
#   train_pipeline = [...]
#   test_pipeline = [...]
#   train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
#   val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
#   test_dataloader = val_dataloader
# (mmengine resolves the variables below when THIS file is read, so a child
# that only redefines img_scale or train_pipeline changes nothing.)
# For another COCO-format defect set see coco_defect.py next to this file.
dataset_type = 'NEUDETDataset'
data_root = 'data/NEU-DET/'
classes = ('crazing', 'inclusion', 'patches', 'pitted_surface',
           'rolled-in_scale', 'scratches')
metainfo = dict(classes=classes)
train_ann_file = 'annotations/train.json'
test_ann_file = 'annotations/test.json'
img_scale = (192, 192)  # (w, h); the paper trains NEU-DET at 192 px
train_batch_size = 16
val_batch_size = 8
num_workers = 2
persistent_workers = True
backend_args = None

train_pipeline = [
    # color_type='color' turns the grey JPEGs into H x W x 3 (equal channels).
    dict(type='LoadImageFromFile', color_type='color',
         backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor', 'flip', 'flip_direction'))
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color',
         backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    # After Resize, so the ground truth stays in original pixels for the
    # evaluator.
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor'))
]

train_dataloader = dict(
    batch_size=train_batch_size,
    num_workers=num_workers,
    persistent_workers=persistent_workers,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file=train_ann_file,
        data_prefix=dict(img='images/'),
        # Every NEU-DET image has boxes; for sets with defect-free images
        # set filter_empty_gt=False to train on them as negatives.
        filter_cfg=dict(filter_empty_gt=True, min_size=0),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=val_batch_size,
    num_workers=num_workers,
    persistent_workers=persistent_workers,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file=test_ann_file,
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + test_ann_file,
    metric='bbox',
    classwise=True,
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator
