# Faster R-CNN R50-FPN (from scratch) on NEU-DET with the RoI head's
# cross-entropy loss. cs_faster-rcnn_r50_fpn_neu.py is this file with the
# cost-sensitive loss. Data, evaluators and cost settings equal the YOLOv5
# configs' (tested).
#   python tools/train.py configs/faster-rcnn_r50_fpn_neu.py
_base_ = [
    './_base_/models/faster-rcnn_r50_fpn.py',
    './_base_/datasets/defect_coco.py',
    './_base_/datasets/neu_det.py',
    './_base_/schedules/sgd_step_24e.py',
    './_base_/default_runtime.py',
]

# Input: the 200 x 200 images are upscaled 2x to 400 x 400 (padded to 416).
# NEU-DET boxes (all 4,189, measured): sqrt(w*h) 11-200 px, median 70, so
# 22-400 px at this size, which the FPN's 32-512 px anchors (P2-P6) span;
# the smallest box still covers 5 cells of the stride-4 level. 600 px gave
# the same anchor coverage (95.8% vs 95.9% of boxes with an anchor at
# >= 0.5 IoU) for 2.25x the compute; mmdet's 800 px is 4x on the CPU.
img_size = 400
# Anchors: NEU-DET boxes are often long and thin (h/w: 20% above 3, 6%
# below 1/3, extremes 0.06 and 20), so the RPN gets ratios 1:4 and 4:1 as
# well: boxes with a >= 0.5 IoU anchor 83.6% -> 95.9% (>= 0.7: 32.8% ->
# 39.0%) at this size, for 5 instead of 3 anchors per position.
model = dict(
    rpn_head=dict(
        anchor_generator=dict(ratios=[0.25, 0.5, 1.0, 2.0, 4.0])))

# The pipelines are defect_coco.py's (resize to img_size, flip).
train_dataloader = dict(batch_size=8)

# mmdet's Faster R-CNN recipe (SGD lr 0.02 at batch 16, momentum 0.9,
# weight decay 1e-4), lr scaled linearly to batch 8.
optim_wrapper = dict(optimizer=dict(lr=0.01, momentum=0.9,
                                    weight_decay=1e-4))
