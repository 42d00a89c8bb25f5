# Quick CPU run of configs/cs_ssd300_neu.py: ssd300_neu_quick.py with that
# config's cost-sensitive loss (the block below is cs_ssd300_neu.py's, eta
# included; tests/test_configs/test_ssd_faster_rcnn_configs.py checks both
# that the quick pair differs only in loss_cls and that this loss equals
# cs_ssd300_neu.py's).
#   python tools/train.py configs/cs_ssd300_neu_quick.py
_base_ = './ssd300_neu_quick.py'

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
            cost_weight={{_base_.cost_weight_ratio}},
            eta=7.7)))
