# YOLOv5 training recipe (Ultralytics v7.0, hyp.scratch-low) with the
# CS-YOLOv5 paper's settings (Liu et al., Sensors 2023, Sec. 3.2): SGD,
# initial lr 0.002, cosine annealing, weight decay 5e-4, 90 epochs.
# The batch size is set by the detector config (configs/yolov5_neu.py: 230,
# the paper's NEU-DET batch). To train with less memory change only it,
#   --cfg-options train_dataloader.batch_size=16
# not the lr and not auto_scale_lr: with the nominal batch 64 the lr is a
# per-image step size (docs/yolov5.md, "Training recipe").
max_epochs = 90

train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# Three groups (biases, conv weights with decay, norm weights), Nesterov
# SGD, gradient clipping at norm 10, nominal batch 64 (see above).
optim_wrapper = dict(
    type='YOLOv5OptimWrapper',
    optimizer=dict(
        type='SGD', lr=0.002, momentum=0.937, weight_decay=5e-4,
        nesterov=True),
    clip_grad=dict(max_norm=10.0),
    constructor='YOLOv5OptimizerConstructor',
    # batch_size_per_gpu is left to YOLOv5ParamSchedulerHook, which applies
    # train_dataloader.batch_size x world size before training.
    paramwise_cfg=dict(nominal_batch_size=64))

# lr / momentum / accumulation are set by YOLOv5ParamSchedulerHook (per-group
# warmup starting points that mmengine's schedulers cannot express), so no
# mmengine param_scheduler is used (the runtime's ParamSchedulerHook then
# has nothing to step).
param_scheduler = None

custom_hooks = [
    dict(
        type='YOLOv5ParamSchedulerHook',
        lr_schedule='cosine',  # the paper; 'linear' is the v7.0 default
        final_lr_factor=0.01,
        warmup_epochs=3.0,
        warmup_min_iters=100,
        warmup_bias_lr=0.1,
        warmup_momentum=0.8),
    # EMA of all float state: decay 0.9999 * (1 - exp(-updates / 2000)),
    # one update per optimizer step; validation uses the EMA weights.
    dict(
        type='YOLOv5EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0001,
        gamma=2000,
        update_buffers=True,
        priority=49),
    # Anchor check / k-means re-fit before training (enabled=False to skip).
    dict(type='YOLOv5AutoAnchorHook', enabled=True, generations=1000,
         seed=0),
]

# Never let mmengine rescale the lr with the batch size (see above).
auto_scale_lr = dict(enable=False, base_batch_size=64)
