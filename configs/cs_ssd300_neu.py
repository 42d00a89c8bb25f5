# Cost-sensitive SSD300 on NEU-DET: ssd300_neu.py with the class loss
# replaced by CostSensitiveLoss (softmax form of paper Eq. 12-13: CE over
# the 6 + 1 columns plus r * the expected cost of the positives' object
# probabilities under the cost matrix; method.md section 2). CSSSDHead
# keeps SSD's 3:1 hard-negative mining (ranked by the per-anchor total) and
# logs loss_cls_ce and loss_cls_cost. Nothing else differs (tested).
_base_ = './ssd300_neu.py'

model = dict(
    bbox_head=dict(
        loss_cls=dict(
            _delete_=True,
            type='CostSensitiveLoss',
            use_sigmoid=False,
            reduction='none',  # CSSSDHead reduces per anchor itself
            loss_weight=1.0,
            classes={{_base_.classes}},
            positive_classes={{_base_.positive_classes}},
            group={{_base_.cost_group}},
            normalize={{_base_.cost_normalize}},
            cost_weight={{_base_.cost_weight_ratio}})))
