# defect_coco.py with the YOLOv5 (Ultralytics v7.0) data pipeline.
# Training: Mosaic of 4 images on a 2s x 2s canvas (grey 114) -> random
# perspective (scale 0.5-1.5, translate 0.1) cropped to s x s -> HSV gains
# -> horizontal flip; CachedMultiImageMixDataset (mmdet's MultiImageMixDataset
# without its copies) feeds the mosaic its extra images. Evaluation: long side
# resized to s, letterboxed to the reference val.py's rectangular batch
# shape. s = img_size, set once.
_base_ = './defect_coco.py'

meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
             'pad_param', 'flip', 'flip_direction')
pre_transform = [
    dict(type='LoadImageFromFile', color_type='color', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
]
train_pipeline = [
    dict(type='YOLOv5Mosaic', img_scale=640, pad_val=114.0, prob=1.0),
    dict(type='YOLOv5RandomPerspective',
         degrees=0.0, translate=0.1, scale=0.5, shear=0.0, perspective=0.0,
         border=(-320, -320), pad_val=114.0),
    dict(type='YOLOv5HSVRandomAug',
         hue_gain=0.015, saturation_gain=0.7, value_gain=0.4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color', backend_args=None),
    dict(type='LetterBox', scale=640, pad_to='stride', size_divisor=32,
         extra_pad_ratio=0.5, interpolation='auto', pad_val=114.0),
    # the dataset's annotations ride along for the evaluators
    dict(type='PackDetInputs', meta_keys=meta_keys + ('instances', )),
]

train_dataloader = dict(
    # one image tensor + NumPy boxes per batch from the workers (cheaper to
    # hand over than pseudo_collate's ~80 tensors); needs the YOLOv5 model's
    # StackedDetDataPreprocessor, which turns them back into tensors
    collate_fn=dict(type='compact_collate'),
    dataset=dict(
        _delete_=True,
        # mmdet's MultiImageMixDataset minus its per-transform deep copies
        type='CachedMultiImageMixDataset',
        # True: decode every training image once into RAM (the log gives the
        # size), like the reference's --cache ram
        cache_images=False,
        dataset=dict(type='DefectDataset', data_root=None,
                     data_prefix=dict(img='images/'),
                     pipeline=pre_transform, backend_args=None),
        pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
