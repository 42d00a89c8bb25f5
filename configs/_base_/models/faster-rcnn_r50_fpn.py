# Faster R-CNN R50-FPN: MMDetection's own base config (inherited through the
# mmdet:: scope, so csdet does not copy it), with csdet's CSShared2FCBBoxHead
# as the RoI box head. CSShared2FCBBoxHead = Shared2FCBBoxHead (same layers
# and losses) + the cost-sensitive loss logged in two parts + pred_instances
# .cls_probs at test time. The RPN keeps its own sigmoid objectness loss.
# COCO defaults are kept here (80 classes; num_classes follows the config's
# classes); detector configs set anchors and input size (see
# configs/faster-rcnn_r50_fpn_neu.py).
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

# RoI-head class loss: softmax over N + 1 columns (background last).
loss_cls = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)
# The cost-sensitive twin; eta 53 gives the cost term the same pull on the
# class logits at init as CS-YOLOv5's (docs/method.md).
cs_loss_cls = dict(type='CostSensitiveLoss', use_sigmoid=False,
                   loss_weight=1.0, eta=53.0)

model = dict(
    backbone=dict(
        # No downloads: ResNet-50 starts from scratch (Kaiming init), so all
        # stages train and BatchNorm learns its statistics (mmdet's
        # frozen_stages=1 / norm_eval=True only make sense on pretrained
        # weights). ImageNet-pretrained weights help a lot; to use them give
        # a LOCAL file and restore mmdet's fine-tuning settings:
        #   backbone=dict(frozen_stages=1, norm_eval=True,
        #                 init_cfg=dict(type='Pretrained',
        #                               checkpoint='/path/resnet50.pth'))
        # or load_from='/path/faster-rcnn_r50_fpn_coco.pth' at the top level
        # (tools/train.py stops with a clear error when the file is missing).
        frozen_stages=-1,
        norm_eval=False,
        init_cfg=None),
    roi_head=dict(
        bbox_head=dict(type='CSShared2FCBBoxHead', loss_cls=loss_cls)))
