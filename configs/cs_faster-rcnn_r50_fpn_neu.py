# Cost-sensitive Faster R-CNN R50-FPN on NEU-DET: faster-rcnn_r50_fpn_neu.py
# with the RoI head's class loss replaced by CostSensitiveLoss (softmax form
# of paper Eq. 12-13: CE over the 6 + 1 columns plus r * the expected cost
# of the positive RoIs' object probabilities; method.md section 2), logged
# as loss_cls_ce and loss_cls_cost. The RPN keeps its objectness loss.
# Nothing else differs (tested).
_base_ = './faster-rcnn_r50_fpn_neu.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                _delete_=True,
                type='CostSensitiveLoss',
                use_sigmoid=False,
                loss_weight=1.0,
                classes={{_base_.classes}},
                positive_classes={{_base_.positive_classes}},
                group={{_base_.cost_group}},
                normalize={{_base_.cost_normalize}},
                cost_weight={{_base_.cost_weight_ratio}}))))
