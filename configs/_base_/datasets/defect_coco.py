# Any COCO-format defect dataset read by csdet's DefectDataset: loaders,
# a plain resize pipeline (detector configs bring their own) and the
# evaluators (COCO mAP, the paper's cost metric, F1, decision cost).
# The top-level values are written into every place that uses them when
# the config is loaded (csdet/utils/config.py), so a child config states
# each of them once: dataset_type, data_root, *_ann_file, classes,
# img_size and the `cost` dict (positive classes, group, r).
train_ann_file = 'annotations/train.json'
val_ann_file = None  # None: validate on the test split
test_ann_file = 'annotations/test.json'
classes = None  # None: the dataset's own, else the train file's categories
img_size = 640
backend_args = None

train_pipeline = [
    # color_type='color': grey images become H x W x 3 (equal channels).
    dict(type='LoadImageFromFile', color_type='color',
         backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor', 'flip', 'flip_direction'))
]
# No LoadAnnotations: the evaluators read the dataset's own annotations
# ('instances', original pixels), so the same pipeline serves unlabelled
# images at inference.
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color',
         backend_args=backend_args),
    dict(type='Resize', scale=(img_size, img_size), keep_ratio=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor', 'instances'))
]

dataset = dict(type='DefectDataset', data_root=None,
               data_prefix=dict(img='images/'), backend_args=backend_args)
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**dataset, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='CocoMetric', metric='bbox', classwise=True,
         backend_args=backend_args),
    # Paper Eq. 16 over all detections matched to ground truth.
    dict(type='CostMetric', score_thr=0.0, iou_thr=0.5),
    dict(type='F1Metric', score_thr=0.25, iou_thr=0.5),
    # Realised cost of the decisions at the deployment threshold.
    dict(type='DecisionCostMetric', score_thr=0.25, iou_thr=0.5),
    # Paper Eq. 16 over the class loss's positive samples (as the paper
    # defines F); one extra forward pass per test image.
    dict(type='PositiveCostMetric'),
]
test_evaluator = val_evaluator
