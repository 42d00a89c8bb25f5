# SSD300 with a VGG16 backbone: MMDetection's own base config (inherited
# through the mmdet:: scope, so csdet does not copy it), with csdet's
# CSSSDHead in place of SSDHead. CSSSDHead = SSDHead (same anchors, 3:1
# hard-negative mining, same losses: tested bit-for-bit) + a loss_cls taken
# from the config + pred_instances.cls_probs at test time.
# COCO defaults are kept here (80 classes; num_classes follows the config's
# classes); detector configs set anchors and input size (see configs/ssd300_neu.py).
_base_ = 'mmdet::_base_/models/ssd300.py'

# Class loss: SSD's cross-entropy. CSSSDHead always asks the loss for
# per-anchor values (reduction_override='none') and reduces them itself.
loss_cls = dict(
    type='CrossEntropyLoss',
    use_sigmoid=False,
    reduction='none',
    loss_weight=1.0)
# The cost-sensitive twin (softmax form); eta 7.7 gives the cost term the
# same pull on the class logits at init as CS-YOLOv5's (docs/method.md).
cs_loss_cls = dict(
    type='CostSensitiveLoss',
    use_sigmoid=False,
    reduction='none',
    loss_weight=1.0,
    eta=7.7)

model = dict(
    # mmdet's SSD300 feeds caffe-style inputs (mean-subtracted, std 1) to
    # match the caffe VGG16 weights it fine-tunes. From scratch that makes
    # the un-normalised fc7 and extra levels ~60x too large (measured: an
    # initial class loss of ~87 per image instead of ~6), so divide by the
    # ImageNet std here; set std=[1, 1, 1] again with caffe VGG weights.
    data_preprocessor=dict(std=[58.395, 57.12, 57.375]),
    backbone=dict(
        # No downloads: VGG16 starts from scratch (SSDVGG's own Kaiming /
        # normal init). ImageNet-pretrained weights help a lot, SSD's VGG has
        # no normalisation layers and trains slowly from scratch. To use them
        # give a LOCAL file:
        #   backbone=dict(init_cfg=dict(type='Pretrained',
        #                               checkpoint='/path/vgg16_caffe.pth'))
        # or load_from='/path/ssd300_coco.pth' at the top level (tools/
        # train.py stops with a clear error when that file is missing).
        init_cfg=None),
    bbox_head=dict(type='CSSSDHead', loss_cls=loss_cls))
