# Quick CPU run of configs/faster-rcnn_r50_fpn_neu.py: the images at their
# native 200 x 200 (padded to 224) instead of 2x, with RPN anchors halved to
# match (scale 4: 16-256 px instead of 32-512 px, so every box meets the
# same anchors as at 400 px), one epoch (188 iterations at batch 8) with a
# 50-iteration warmup and a cosine decay, one evaluation at the end. For
# smoke tests and the short detector comparison in README (tools/
# compare.py), not for accuracy. cs_faster-rcnn_r50_fpn_neu_quick.py is this
# file with the cost-sensitive loss.
#   python tools/train.py configs/faster-rcnn_r50_fpn_neu_quick.py
_base_ = './faster-rcnn_r50_fpn_neu.py'

img_scale = (200, 200)
model = dict(rpn_head=dict(anchor_generator=dict(scales=[4])))

# The base pipelines are built from its img_scale when it is read, so they
# are restated here with the new one.
backend_args = None
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')

train_pipeline = [
    dict(type='LoadImageFromFile', color_type='color',
         backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs',
         meta_keys=meta_keys + ('flip', 'flip_direction')),
]
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color',
         backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_epochs = 1
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', eta_min_ratio=0.01, begin=0,
         end=max_epochs, by_epoch=True, convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
