# NEU-DET with the YOLOv5 (Ultralytics v7.0) data pipeline at 192 px.
# Dataset, split and paths come from neu_det.py; the cost settings and the
# evaluators (CocoMetric + CostMetric + F1Metric + DecisionCostMetric) from
# ../cost_neu.py, shared with the SSD and Faster R-CNN configs.
#
# Training: Mosaic (4 images on a 384 x 384 canvas, grey 114) -> random
# perspective (scale U(0.5, 1.5), translate 0.1, centred, cropped to
# 192 x 192, boxes filtered) -> multiplicative HSV gains -> horizontal flip
# 0.5. mmdet's MultiImageMixDataset feeds the mosaic its three extra images.
# Evaluation: as the reference's val.py: long side resized to 192 (area
# interpolation), letterboxed to the rectangular batch shape
# ceil(192 / 32 + 0.5) * 32 = 224 (16 px of grey per side); the head undoes
# it with pad_param / scale_factor.
_base_ = '../cost_neu.py'  # which inherits ./neu_det.py

img_size = 192
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
             'pad_param', 'flip', 'flip_direction')

# Per-image loading, run by the inner dataset for each mosaic tile.
pre_transform = [
    dict(type='LoadImageFromFile', color_type='color', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
]
train_pipeline = [
    dict(type='YOLOv5Mosaic', img_scale=img_size, pad_val=114.0, prob=1.0),
    dict(type='YOLOv5RandomPerspective',
         degrees=0.0, translate=0.1, scale=0.5, shear=0.0, perspective=0.0,
         border=(-img_size // 2, -img_size // 2), pad_val=114.0),
    dict(type='YOLOv5HSVRandomAug',
         hue_gain=0.015, saturation_gain=0.7, value_gain=0.4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color', backend_args=None),
    dict(type='LetterBox', scale=img_size, pad_to='stride', size_divisor=32,
         extra_pad_ratio=0.5, interpolation='auto', pad_val=114.0),
    # After LetterBox: the ground truth stays in original pixels for the
    # evaluators.
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]

# The paper's NEU-DET batch. Lower it with
#   --cfg-options train_dataloader.batch_size=16
# and keep the lr (see schedules/yolov5_cosine_90e.py for why).
train_dataloader = dict(
    batch_size=230,
    dataset=dict(
        _delete_=True,
        type='MultiImageMixDataset',
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            metainfo={{_base_.metainfo}},
            ann_file={{_base_.train_ann_file}},
            data_prefix=dict(img='images/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=0),
            pipeline=pre_transform,
            backend_args=None),
        pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
