# Cost settings and evaluators shared by every NEU-DET detector config
# (YOLOv5, SSD300, Faster R-CNN; plain and cost-sensitive), so that all of
# them are scored on the same cost matrix and the cost-sensitive losses
# train on it. Includes the dataset base (loaders, CocoMetric).
#
# Detector configs take the values through mmengine's base references, e.g.
#   loss_cls=dict(_delete_=True, type='CostSensitiveLoss', use_sigmoid=False,
#                 classes={{_base_.classes}},
#                 positive_classes={{_base_.positive_classes}},
#                 group={{_base_.cost_group}},
#                 cost_weight={{_base_.cost_weight_ratio}})
# ({{_base_.x}} is substituted as a whole value: no arithmetic on it, so a
# loss with loss_weight != 1 writes cost_weight = ratio * loss_weight out),
# and change the cost setting of a whole experiment with --cfg-options on
# the loss AND the evaluators (e.g. a group-b run sets
# model...loss_cls.group=b and val_evaluator.1.group=b, .2, .3 likewise).
_base_ = './datasets/neu_det.py'

# Paper (Liu et al. 2023, Sec. 3.3): NEU-DET "positive" (costly, gallery)
# classes; crazing and rolled-in_scale are the negative set.
positive_classes = ['patches', 'pitted_surface', 'inclusion', 'scratches']
# Coefficient group a = lambda_NP:PN:NN:PP = 200:20:2:1 (paper Table 1,
# its default); the matrix is divided by its largest entry (normalize='max').
cost_group = 'a'
cost_normalize = 'max'
# r = lambda_cost / lambda_cls (paper Sec. 3.6): 0.75, the best NEU-DET mAP
# of the paper's r sweep (Table 4), as in configs/cs_yolov5_neu.py. A loss
# sets cost_weight = cost_weight_ratio * its own loss_weight.
cost_weight_ratio = 0.75

# Evaluators: COCO mAP (the dataset base's CocoMetric on the test split),
# the paper's cost metric (Eq. 16 over all detections matched to ground
# truth, class-agnostic, IoU >= 0.5, full class-probability vectors
# pred_instances.cls_probs), macro F1 and the realised decision cost
# (misses and false alarms included) at the deployment threshold 0.25.
# All read the classes from the dataset's metainfo.
cost_spec = dict(
    positive_classes=positive_classes,
    group=cost_group,
    normalize=cost_normalize)
val_evaluator = [
    {{_base_.val_evaluator}},
    dict(type='CostMetric', score_thr=0.0, iou_thr=0.5, **cost_spec),
    dict(type='F1Metric', score_thr=0.25, iou_thr=0.5, **cost_spec),
    dict(type='DecisionCostMetric', score_thr=0.25, iou_thr=0.5,
         **cost_spec),
]
test_evaluator = val_evaluator
