# Step schedule for the SSD / Faster R-CNN comparison detectors on NEU-DET:
# SGD with momentum, linear warmup over the first 500 iterations, then the
# lr drops x0.1 after epochs 16 and 22 of 24 (MMDetection's 2x schedule).
# The detector configs set the base lr for their batch size (lr scaled
# linearly from MMDetection's reference recipes) and the weight decay.
# Backbones start from scratch (no downloads), which usually wants a longer
# schedule than fine-tuning: raise max_epochs and the milestones together,
#   --cfg-options train_cfg.max_epochs=48 \
#       param_scheduler.1.milestones=[32,44] param_scheduler.1.end=48
max_epochs = 24

train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=4)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[16, 22], gamma=0.1),
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))

# The lr in each detector config is already set for its batch size;
# mmengine's automatic scaling stays off.
auto_scale_lr = dict(enable=False, base_batch_size=16)

# The *_quick configs' CPU budget: one epoch, a 50-iteration linear warmup
# and a cosine decay (train_cfg max_epochs=1 in those configs).
quick_param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', eta_min_ratio=0.01, begin=0, end=1,
         by_epoch=True, convert_to_iter_based=True),
]
