"""Overfit check: YOLOv5s memorises 8 NEU-DET images (mAP@0.5 >= 0.9).

Runs mmengine's Runner with the csdet YOLOv5 model and recipe parts
(YOLOv5OptimizerConstructor / YOLOv5OptimWrapper, YOLOv5ParamSchedulerHook,
YOLOv5AutoAnchorHook, LetterBox, CocoMetric) on 8 real training images,
without mosaic or flips (LetterBox to 192 px only, for training and
evaluation), batch 8 with nominal batch 8 (no accumulation), lr 0.02
decayed linearly, 400 iterations, and evaluates on the same 8 images (about
2 min on two idle CPU cores).

Measured (mAP@0.5 on the 8 images, 2 threads, this repo's pinned stack,
2026-11-30): with a 400-iteration schedule 0.22 / 0.61 / 0.84 / 0.95 / 1.00
after 200 / 250 / 300 / 350 / 400 iterations; a 250-iteration schedule ends
at 0.81 (an earlier environment reached 1.0 there, so 250 had no margin).
The runs are deterministic for a fixed environment and thread count.
"""
import copy
import time
from pathlib import Path

from mmengine.config import Config
from mmengine.runner import Runner

import csdet  # noqa: F401  (registers the YOLOv5 modules)
from neu_subset import EIGHT_IMAGES, NEU_CLASSES, write_coco_subset


def overfit_config(repo_root: Path, neu_root: Path, work_dir: Path,
                   ann_file: Path, max_epochs: int) -> Config:
    cfg = Config.fromfile(str(repo_root / 'configs/_base_/models/yolov5s.py'))
    cfg.merge_from_dict(dict(model=dict(bbox_head=dict(num_classes=6,
                                                       imgsz=192))))
    meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape',
                 'scale_factor', 'pad_param')
    train_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='LetterBox', scale=192, interpolation='bilinear'),
        dict(type='PackDetInputs', meta_keys=meta_keys),
    ]
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LetterBox', scale=192, interpolation='bilinear'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackDetInputs', meta_keys=meta_keys),
    ]
    dataset = dict(
        type='CocoDataset', data_root=str(neu_root),
        ann_file=str(ann_file), data_prefix=dict(img='IMAGES/'),
        metainfo=dict(classes=NEU_CLASSES), filter_cfg=None)
    cfg.merge_from_dict(dict(
        default_scope='mmdet',
        custom_imports=dict(imports=['csdet'], allow_failed_imports=False),
        work_dir=str(work_dir),
        randomness=dict(seed=0),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        train_dataloader=dict(
            batch_size=8, num_workers=0, persistent_workers=False,
            sampler=dict(type='DefaultSampler', shuffle=True),
            dataset=dict(dataset, pipeline=train_pipeline)),
        val_dataloader=dict(
            batch_size=8, num_workers=0, persistent_workers=False,
            drop_last=False,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(dataset, pipeline=test_pipeline, test_mode=True)),
        val_evaluator=dict(type='CocoMetric', ann_file=str(ann_file),
                           metric='bbox'),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                       val_interval=max_epochs),
        val_cfg=dict(type='ValLoop'),
        optim_wrapper=dict(
            type='YOLOv5OptimWrapper',
            optimizer=dict(type='SGD', lr=0.02, momentum=0.937,
                           weight_decay=5e-4, nesterov=True),
            clip_grad=dict(max_norm=10.0),
            constructor='YOLOv5OptimizerConstructor',
            paramwise_cfg=dict(batch_size_per_gpu=8, nominal_batch_size=8)),
        param_scheduler=None,
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=50),
            checkpoint=dict(type='CheckpointHook', interval=-1,
                            save_last=False)),
        custom_hooks=[
            dict(type='YOLOv5ParamSchedulerHook', lr_schedule='linear',
                 warmup_epochs=0, warmup_min_iters=10),
            dict(type='YOLOv5AutoAnchorHook', generations=300),
        ],
        log_level='WARNING'))
    return cfg


def test_yolov5s_overfits_eight_neu_images(repo_root, neu_det_root,
                                            tmp_path):
    ann_file = tmp_path / 'eight.json'
    num_boxes = write_coco_subset(neu_det_root, EIGHT_IMAGES, ann_file)
    assert num_boxes >= 8
    cfg = overfit_config(repo_root, neu_det_root, tmp_path / 'work',
                         ann_file, max_epochs=400)
    start = time.time()
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    runner.train()
    metrics = runner.val_loop.run()
    elapsed = time.time() - start
    print(f'overfit: {elapsed:.0f} s, metrics {metrics}')
    assert metrics['coco/bbox_mAP_50'] >= 0.9, metrics
