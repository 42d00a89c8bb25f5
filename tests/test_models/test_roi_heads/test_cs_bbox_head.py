"""CSShared2FCBBoxHead: Shared2FCBBoxHead's losses and detections, the
cost-sensitive loss in two parts, and cls_probs on the detections."""
import torch
from mmengine.config import ConfigDict
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead

from csdet.cost.matrix import resolve_cost_matrix
from csdet.models.roi_heads import CSShared2FCBBoxHead
from csdet.datasets import NEU_DET_CLASSES

NEU_CLASSES = NEU_DET_CLASSES
POSITIVE = ('patches', 'pitted_surface', 'inclusion', 'scratches')
NUM_ROIS = 40
TEST_CFG = ConfigDict(
    score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)


def head_kwargs(**loss_kwargs):
    loss_cls = dict(type='CrossEntropyLoss', use_sigmoid=False)
    if loss_kwargs:
        loss_cls = dict(
            type='CostSensitiveLoss',
            use_sigmoid=False,
            classes=NEU_CLASSES,
            positive_classes=POSITIVE,
            group='a',
            **loss_kwargs)
    return dict(
        in_channels=8,
        fc_out_channels=16,
        roi_feat_size=7,
        num_classes=6,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.] * 4,
            target_stds=[0.1, 0.1, 0.2, 0.2]),
        reg_class_agnostic=False,
        loss_cls=loss_cls)


def make_heads(**loss_kwargs):
    """mmdet's Shared2FCBBoxHead (cross-entropy) and ours, same weights."""
    torch.manual_seed(0)
    reference = Shared2FCBBoxHead(**head_kwargs())
    head = CSShared2FCBBoxHead(**head_kwargs(**loss_kwargs))
    head.load_state_dict(reference.state_dict())
    return reference, head


def roi_inputs(seed=1):
    generator = torch.Generator().manual_seed(seed)
    feats = torch.randn(NUM_ROIS, 8, 7, 7, generator=generator)
    corners = torch.rand(NUM_ROIS, 2, generator=generator) * 150
    sizes = 20 + torch.rand(NUM_ROIS, 2, generator=generator) * 150
    rois = torch.cat([torch.zeros(NUM_ROIS, 1), corners, corners + sizes], 1)
    # 7 = background; every class and background present.
    labels = torch.arange(NUM_ROIS) % 7
    targets = dict(
        labels=labels,
        label_weights=torch.ones(NUM_ROIS),
        bbox_targets=torch.randn(NUM_ROIS, 4, generator=generator),
        bbox_weights=torch.ones(NUM_ROIS, 4))
    return feats, rois, targets


def run_loss(head, cls_score, bbox_pred, rois, targets):
    return head.loss(cls_score, bbox_pred, rois, targets['labels'],
                     targets['label_weights'], targets['bbox_targets'],
                     targets['bbox_weights'])


def test_cross_entropy_config_gives_shared2fc_losses_exactly():
    reference, head = make_heads()
    feats, rois, targets = roi_inputs()
    expected = run_loss(reference, *reference(feats), rois, targets)
    got = run_loss(head, *head(feats), rois, targets)
    assert set(got) == {'loss_cls', 'loss_bbox', 'acc'}
    for key in got:
        assert torch.equal(got[key], expected[key]), key


def test_cost_loss_is_logged_in_two_parts():
    reference, head = make_heads(cost_weight=0.5)
    feats, rois, targets = roi_inputs()
    expected = run_loss(reference, *reference(feats), rois, targets)
    cls_score, bbox_pred = head(feats)
    got = run_loss(head, cls_score, bbox_pred, rois, targets)
    assert set(got) == {'loss_cls_ce', 'loss_cls_cost', 'loss_bbox', 'acc'}
    # The CE part and the box loss are BBoxHead's.
    for key, ref_key in (('loss_cls_ce', 'loss_cls'),
                         ('loss_bbox', 'loss_bbox'), ('acc', 'acc')):
        assert torch.equal(got[key], expected[ref_key]), key
    # Cost part: 0.5 * mean over all sampled RoIs (BBoxHead's avg_factor)
    # of the positives' expected cost sum_c softmax(z)_c C[t, c].
    cost_matrix = torch.as_tensor(
        resolve_cost_matrix(classes=NEU_CLASSES, positive_classes=POSITIVE,
                            group='a'),
        dtype=torch.float32)
    labels = targets['labels']
    positive = labels < 6
    probs = cls_score.softmax(-1)[positive, :6]
    expected_cost = 0.5 * (probs * cost_matrix[labels[positive]]).sum() / (
        NUM_ROIS)
    torch.testing.assert_close(got['loss_cls_cost'], expected_cost)
    assert expected_cost > 0
    # It pushes the logits: non-zero gradient w.r.t. the class scores.
    grad, = torch.autograd.grad(got['loss_cls_cost'], cls_score)
    assert grad[positive].abs().sum(1).min() > 0
    assert grad[~positive].abs().max() == 0


def test_predict_matches_bbox_head_and_adds_cls_probs():
    reference, head = make_heads(cost_weight=1.0)
    feats, rois, _ = roi_inputs()
    meta = dict(img_shape=(400, 400), scale_factor=(2., 2.))
    cls_score, bbox_pred = head(feats)
    expected = reference.predict_by_feat((rois, ), (cls_score, ),
                                         (bbox_pred, ), [meta],
                                         rcnn_test_cfg=TEST_CFG,
                                         rescale=True)[0]
    got = head.predict_by_feat((rois, ), (cls_score, ), (bbox_pred, ),
                               [meta],
                               rcnn_test_cfg=TEST_CFG,
                               rescale=True)[0]
    assert len(got) > 0
    for key in ('bboxes', 'scores', 'labels'):
        assert torch.equal(got[key], expected[key]), key
    assert got.cls_probs.shape == (len(got), 6)
    assert torch.equal(
        got.cls_probs.gather(1, got.labels[:, None])[:, 0], got.scores)
    # Every row is the softmax of one RoI, background dropped.
    roi_probs = cls_score.softmax(-1)[:, :6]
    difference = (got.cls_probs[:, None] - roi_probs[None]).abs().amax(-1)
    assert difference.min(1).values.max() == 0
    assert (got.cls_probs.sum(1) < 1).all()


def test_predict_keeps_the_vector_of_the_right_roi():
    # Two far-apart RoIs with known, different class distributions.
    _, head = make_heads(cost_weight=1.0)
    rois = torch.tensor([[0., 10., 10., 60., 60.], [0., 200., 200., 300.,
                                                    300.]])
    cls_score = torch.tensor([[3., 0., 0., 0., 0., 0., 0.],
                              [0., 0., 0., 0., 2., 1., 0.]])
    bbox_pred = torch.zeros(2, 24)
    meta = dict(img_shape=(400, 400), scale_factor=(1., 1.))
    result = head.predict_by_feat((rois, ), (cls_score, ), (bbox_pred, ),
                                  [meta],
                                  rcnn_test_cfg=TEST_CFG,
                                  rescale=True)[0]
    probs = cls_score.softmax(-1)[:, :6]
    for box, label, row in zip(result.bboxes, result.labels,
                               result.cls_probs):
        roi_index = 0 if box[0] < 100 else 1
        assert torch.equal(row, probs[roi_index])
        assert torch.equal(box, rois[roi_index, 1:])
    assert {0, 4} <= set(result.labels.tolist())


def test_predict_without_rois_has_empty_cls_probs():
    _, head = make_heads(cost_weight=1.0)
    feats, rois, _ = roi_inputs()
    cls_score, bbox_pred = head(feats[:0])
    result = head.predict_by_feat((rois[:0], ), (cls_score, ), (bbox_pred, ),
                                  [dict(img_shape=(400, 400),
                                        scale_factor=(2., 2.))],
                                  rcnn_test_cfg=TEST_CFG,
                                  rescale=True)[0]
    assert len(result) == 0
    assert result.cls_probs.shape == (0, 6)
