# YOLOv5s (Ultralytics v7.0) model, COCO defaults (80 classes, 640 px).
# Other sizes are one-line overrides of the detector-level factors, e.g.
#   model = dict(deepen_factor=0.67, widen_factor=0.75)      # yolov5m
# (yolov5n/m/l/x.py next to this file do exactly that). num_classes and the
# head's imgsz (the training size) follow the config's classes / img_size.

# Model size (s): depth multiple d, width multiple w.
deepen_factor = 0.33
widen_factor = 0.5

# Ultralytics v7.0 default anchors (pixels, w x h) for P3/8, P4/16, P5/32.
# AutoAnchor may replace them at run time via model.bbox_head.set_anchors().
anchors = [[(10, 13), (16, 30), (33, 23)],
           [(30, 61), (62, 45), (59, 119)],
           [(116, 90), (156, 198), (373, 326)]]
strides = [8, 16, 32]

# Class loss: YOLOv5's BCE-with-logits, mean over positives x classes, with
# the hyp 'cls' gain 0.5 as loss_weight (the head multiplies by
# nc/80 * 3/nl * batch_size itself).
loss_cls = dict(
    type='CrossEntropyLoss',
    use_sigmoid=True,
    reduction='mean',
    loss_weight=0.5)
# The cost-sensitive twin (paper Eq. 12-13), selected by the CS configs.
# Its cost settings come from the config's `cost` dict; eta 3 with
# cost_reduction 'mean' matches the paper's strength at its batch 230
# (docs/method.md, "Cost-term strength").
cs_loss_cls = dict(
    type='CostSensitiveLoss',
    use_sigmoid=True,
    reduction='mean',
    loss_weight=0.5,
    eta=3.0,
    cost_reduction='mean')

model = dict(
    type='YOLOv5',
    deepen_factor=deepen_factor,
    widen_factor=widen_factor,
    # channels-last training batches: faster CPU convolutions, the same
    # losses up to float rounding (False: bit for bit as before it)
    channels_last=True,
    # True: training's backbone + neck run through torch.compile (needs a
    # C++ compiler; compiles at the start of training; docs/yolov5.md)
    compile_features=False,
    data_preprocessor=dict(
        # DetDataPreprocessor's output, equal-sized batches converted at once
        type='StackedDetDataPreprocessor',
        mean=[0., 0., 0.],
        std=[255., 255., 255.],
        bgr_to_rgb=True,
        pad_size_divisor=32,
        # Batch padding is applied after normalisation: 114 / 255 is the
        # reference's grey letterbox fill.
        pad_value=114 / 255),
    backbone=dict(
        type='YOLOv5CSPDarknet',
        out_indices=(2, 3, 4),
        frozen_stages=-1,
        norm_eval=False),
    neck=dict(
        type='YOLOv5PAFPN',
        in_channels=[256, 512, 1024],
        out_channels=[256, 512, 1024],
        num_csp_blocks=3),
    bbox_head=dict(
        type='YOLOv5Head',
        num_classes=80,
        in_channels=[256, 512, 1024],
        prior_generator=dict(
            type='YOLOAnchorGenerator',
            base_sizes=anchors,
            strides=strides),
        loss_cls=loss_cls,
        box_gain=0.05,
        obj_gain=1.0,
        obj_level_weights=[4.0, 1.0, 0.4],
        label_smoothing=0.0,
        imgsz=640),
    # Target assignment: anchor/gt side ratio < anchor_t (hyp anchor_t), own
    # cell + 2 neighbours chosen with offset 0.5.
    train_cfg=dict(anchor_t=4.0, neighbour_offset=0.5),
    # Reference val.py settings (conf 0.001, NMS IoU 0.6, 300 dets,
    # multi-label). Deployment defaults would be score_thr=0.25, IoU 0.45.
    test_cfg=dict(
        score_thr=0.001,
        nms_pre=30000,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=300,
        multi_label=True,
        # tools/test.py and DefectDetector fold BatchNorm into the convs
        # (as the reference's val.py / detect.py); False keeps them apart.
        fuse_conv_bn=True))
