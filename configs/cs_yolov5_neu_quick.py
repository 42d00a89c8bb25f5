# Quick CPU run of configs/cs_yolov5_neu.py: configs/yolov5_neu_quick.py
# with ONLY the class loss replaced (the same block as cs_yolov5_neu.py;
# tests/test_engine/test_yolov5_configs.py checks the two stay identical).
#   python tools/train.py configs/cs_yolov5_neu_quick.py
_base_ = './yolov5_neu_quick.py'

# Values and their reasons: see configs/cs_yolov5_neu.py.
model = dict(
    bbox_head=dict(
        loss_cls=dict(
            _delete_=True,
            type='CostSensitiveLoss',
            use_sigmoid=True,
            classes={{_base_.classes}},
            positive_classes=[
                'patches', 'pitted_surface', 'inclusion', 'scratches'
            ],
            group='a',
            normalize='max',
            reduction='mean',
            loss_weight=0.5,
            cost_weight=0.375,
            eta=3.0,
            cost_reduction='mean')))
