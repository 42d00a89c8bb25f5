"""CSSSDHead: equal to mmdet's SSDHead with cross-entropy, cost-sensitive
loss parts, hard-negative mining, and predictions with cls_probs."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from mmdet.models.dense_heads import SSDHead
from mmdet.models.losses import CrossEntropyLoss

from csdet.cost.matrix import resolve_cost_matrix
from csdet.models.dense_heads import CSSSDHead
from csdet.models.losses import CostSensitiveLoss
from csdet.datasets import NEU_DET_CLASSES

NEU_CLASSES = NEU_DET_CLASSES
POSITIVE = ('patches', 'pitted_surface', 'inclusion', 'scratches')
# SSD300 feature-map sizes; tiny channel counts keep the head cheap.
FEAT_SIZES = (38, 19, 10, 5, 3, 1)
CHANNELS = 4


def head_kwargs():
    return dict(
        num_classes=6,
        in_channels=(CHANNELS, ) * 6,
        anchor_generator=dict(
            type='SSDAnchorGenerator',
            scale_major=False,
            input_size=300,
            basesize_ratio_range=(0.2, 0.9),
            strides=[8, 16, 32, 64, 100, 300],
            ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]]),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.] * 4,
            target_stds=[0.1, 0.1, 0.2, 0.2]),
        train_cfg=ConfigDict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.,
                ignore_iof_thr=-1,
                gt_max_assign_all=False),
            sampler=dict(type='PseudoSampler'),
            smoothl1_beta=1.,
            allowed_border=-1,
            pos_weight=-1,
            neg_pos_ratio=3,
            debug=False),
        test_cfg=ConfigDict(
            nms_pre=1000,
            nms=dict(type='nms', iou_threshold=0.45),
            min_bbox_size=0,
            score_thr=0.02,
            max_per_img=200))


def cs_loss_cfg(**kwargs):
    cfg = dict(
        type='CostSensitiveLoss',
        use_sigmoid=False,
        reduction='none',
        classes=NEU_CLASSES,
        positive_classes=POSITIVE,
        group='a',
        cost_weight=1.0)
    cfg.update(kwargs)
    return cfg


def make_heads(**cs_kwargs):
    """mmdet's SSDHead and a CSSSDHead with the same weights."""
    torch.manual_seed(0)
    reference = SSDHead(**head_kwargs())
    head = CSSSDHead(**head_kwargs(), **cs_kwargs)
    head.load_state_dict(reference.state_dict())
    return reference, head


def inputs(num_imgs=2, seed=1):
    generator = torch.Generator().manual_seed(seed)
    feats = tuple(
        torch.randn(num_imgs, CHANNELS, s, s, generator=generator)
        for s in FEAT_SIZES)
    metas = [
        dict(img_shape=(300, 300), pad_shape=(300, 300),
             scale_factor=(1.5, 1.5), ori_shape=(200, 200))
    ] * num_imgs
    # Boxes of several sizes so that positives fall on several levels.
    boxes = [[[10., 20., 100., 200.], [150., 30., 290., 90.]],
             [[5., 5., 40., 60.], [20., 100., 280., 290.],
              [200., 200., 260., 230.]]]
    labels = [[2, 4], [0, 5, 1]]
    gts = [
        InstanceData(bboxes=torch.tensor(boxes[i % 2]),
                     labels=torch.tensor(labels[i % 2]))
        for i in range(num_imgs)
    ]
    return feats, metas, gts


def assigned_labels(head, cls_scores, gts, metas):
    """Per-image anchor labels [A] from mmdet's own target machinery."""
    featmap_sizes = [score.shape[-2:] for score in cls_scores]
    anchors, valid = head.get_anchors(featmap_sizes, metas, device='cpu')
    labels_list, _, _, _, avg_factor = head.get_targets(
        anchors, valid, gts, metas, unmap_outputs=True)
    labels = torch.cat(labels_list, -1).view(len(metas), -1)
    return labels, avg_factor


def flat_scores(cls_scores, num_imgs):
    return torch.cat([
        score.permute(0, 2, 3, 1).reshape(num_imgs, -1, 7)
        for score in cls_scores
    ], 1)


def test_default_loss_is_cross_entropy_and_matches_ssdhead_exactly():
    reference, head = make_heads()
    assert isinstance(head.loss_cls, CrossEntropyLoss)
    feats, metas, gts = inputs()
    expected = reference.loss_by_feat(*reference(feats), gts, metas)
    got = head.loss_by_feat(*head(feats), gts, metas)
    assert set(got) == {'loss_cls', 'loss_bbox'}
    for key in ('loss_cls', 'loss_bbox'):
        assert len(got[key]) == 2
        for value, ref_value in zip(got[key], expected[key]):
            assert value.shape == ref_value.shape
            assert torch.equal(value, ref_value), key
    assert all(value.item() > 0 for value in got['loss_cls'])


def test_cost_weight_zero_gives_ssdhead_loss_as_ce_part():
    reference, head = make_heads(loss_cls=cs_loss_cfg(cost_weight=0.0))
    feats, metas, gts = inputs()
    expected = reference.loss_by_feat(*reference(feats), gts, metas)
    got = head.loss_by_feat(*head(feats), gts, metas)
    assert set(got) == {'loss_cls_ce', 'loss_cls_cost', 'loss_bbox'}
    for value, ref_value in zip(got['loss_cls_ce'], expected['loss_cls']):
        assert torch.equal(value, ref_value)
    for value, ref_value in zip(got['loss_bbox'], expected['loss_bbox']):
        assert torch.equal(value, ref_value)
    assert all(value.item() == 0 for value in got['loss_cls_cost'])


def test_cost_part_is_expected_cost_of_positives_over_avg_factor():
    reference, head = make_heads(loss_cls=cs_loss_cfg(cost_weight=0.7))
    feats, metas, gts = inputs()
    cls_scores, bbox_preds = head(feats)
    got = head.loss_by_feat(cls_scores, bbox_preds, gts, metas)
    # CE part unchanged by the cost term.
    expected = reference.loss_by_feat(*reference(feats), gts, metas)
    for value, ref_value in zip(got['loss_cls_ce'], expected['loss_cls']):
        assert torch.equal(value, ref_value)
    # Independent cost: 0.7 * sum_{pos} sum_c softmax(z)_c C[t, c] / P.
    cost_matrix = torch.as_tensor(
        resolve_cost_matrix(classes=NEU_CLASSES, positive_classes=POSITIVE,
                            group='a'),
        dtype=torch.float32)
    labels, avg_factor = assigned_labels(head, cls_scores, gts, metas)
    probs = flat_scores(cls_scores, 2).softmax(-1)[..., :6]
    for image in range(2):
        positive = labels[image] < 6
        assert positive.sum() > 0
        per_anchor = (probs[image][positive] *
                      cost_matrix[labels[image][positive]]).sum(1)
        expected_cost = 0.7 * per_anchor.sum() / avg_factor
        assert got['loss_cls_cost'][image].shape == (1, )
        torch.testing.assert_close(got['loss_cls_cost'][image][0],
                                   expected_cost)
        assert expected_cost > 0


def test_cost_gradient_reaches_only_positive_anchors_logits():
    _, head = make_heads(loss_cls=cs_loss_cfg())
    feats, metas, gts = inputs()
    cls_scores, bbox_preds = head(feats)
    losses = head.loss_by_feat(cls_scores, bbox_preds, gts, metas)
    grads = torch.autograd.grad(
        sum(value.sum() for value in losses['loss_cls_cost']), cls_scores)
    per_anchor_grad = flat_scores(grads, 2).abs().sum(-1)
    labels, _ = assigned_labels(head, cls_scores, gts, metas)
    positive = labels < 6
    assert per_anchor_grad[positive].min() > 0
    # Background anchors have no cost term (no false-alarm costs set).
    assert per_anchor_grad[~positive].max() == 0


def test_cost_reduction_sum_is_not_divided_by_avg_factor():
    _, mean_head = make_heads(loss_cls=cs_loss_cfg())
    _, sum_head = make_heads(loss_cls=cs_loss_cfg(cost_reduction='sum'))
    feats, metas, gts = inputs()
    cls_scores, bbox_preds = mean_head(feats)
    _, avg_factor = assigned_labels(mean_head, cls_scores, gts, metas)
    mean_losses = mean_head.loss_by_feat(cls_scores, bbox_preds, gts, metas)
    sum_losses = sum_head.loss_by_feat(cls_scores, bbox_preds, gts, metas)
    for mean_value, sum_value in zip(mean_losses['loss_cls_cost'],
                                     sum_losses['loss_cls_cost']):
        torch.testing.assert_close(sum_value, mean_value * avg_factor)
    for mean_value, sum_value in zip(mean_losses['loss_cls_ce'],
                                     sum_losses['loss_cls_ce']):
        assert torch.equal(mean_value, sum_value)


def test_hard_negative_mining_keeps_positives_and_top_three_to_one():
    _, head = make_heads()
    labels = torch.tensor([6, 0, 6, 6, 3, 6, 6, 6, 6, 6, 6])
    loss = torch.tensor([.1, 5., .9, .2, 4., .8, .3, .7, .4, .6, .5])
    pos_inds, neg_inds = head._hard_negative_mining(loss, labels)
    assert pos_inds.tolist() == [1, 4]
    # 2 positives -> the 6 hardest of the 9 negatives.
    assert sorted(neg_inds.tolist()) == [2, 5, 7, 8, 9, 10]
    # Fewer negatives than 3 x positives: all of them.
    few = torch.tensor([0, 1, 6])
    pos_inds, neg_inds = head._hard_negative_mining(loss[:3], few)
    assert pos_inds.tolist() == [0, 1] and neg_inds.tolist() == [2]


def test_false_alarm_costs_change_which_negatives_are_mined():
    # With a false-alarm cost the negatives' ranking includes the cost
    # term: the mined set is the top-k of CE + cost, not of CE alone.
    _, head = make_heads(loss_cls=cs_loss_cfg(false_alarm_costs=5.0))
    feats, metas, gts = inputs(num_imgs=1)
    cls_scores, _ = head(feats)
    labels, _ = assigned_labels(head, cls_scores, gts, metas)
    scores = flat_scores(cls_scores, 1)[0]
    parts = head._per_anchor_cls_loss(scores, labels[0],
                                      torch.ones_like(labels[0]).float())
    assert list(parts) == ['loss_cls_ce', 'loss_cls_cost']
    negative = labels[0] == 6
    assert parts['loss_cls_cost'][negative].min() > 0
    total = parts['loss_cls_ce'] + parts['loss_cls_cost']
    _, mined = head._hard_negative_mining(total, labels[0])
    num_mined = mined.numel()
    expected = total[negative].topk(num_mined).values
    torch.testing.assert_close(total[mined].sort().values,
                               expected.sort().values)


def test_predict_matches_ssdhead_and_adds_cls_probs():
    reference, head = make_heads(loss_cls=cs_loss_cfg())
    # mmdet 3.3's SSDHead never builds loss_cls, so its predict fails...
    with pytest.raises(AttributeError, match='loss_cls'):
        reference.predict_by_feat(*reference(inputs()[0]),
                                  batch_img_metas=inputs()[1])
    # ...give it one (unused for the scores) to get reference detections.
    reference.loss_cls = CrossEntropyLoss()
    feats, metas, _ = inputs()
    expected = reference.predict_by_feat(
        *reference(feats), batch_img_metas=metas, rescale=True)
    cls_scores, bbox_preds = head(feats)
    got = head.predict_by_feat(
        cls_scores, bbox_preds, batch_img_metas=metas, rescale=True)
    all_probs = flat_scores(cls_scores, 2).softmax(-1)[..., :6]
    for image, (result, ref_result) in enumerate(zip(got, expected)):
        assert len(result) > 0
        assert torch.equal(result.bboxes, ref_result.bboxes)
        assert torch.equal(result.scores, ref_result.scores)
        assert torch.equal(result.labels, ref_result.labels)
        assert result.cls_probs.shape == (len(result), 6)
        # Background dropped, not renormalised: the label's entry is the
        # score and rows sum to 1 - p(background) < 1.
        assert torch.equal(
            result.cls_probs.gather(1, result.labels[:, None])[:, 0],
            result.scores)
        assert (result.cls_probs.sum(1) < 1).all()
        # Each row is one anchor's softmax vector.
        difference = (result.cls_probs[:, None] -
                      all_probs[image][None]).abs().amax(-1)
        assert difference.min(1).values.max() == 0


def test_predict_with_no_detection_keeps_an_empty_cls_probs():
    _, head = make_heads()
    head.test_cfg.score_thr = 1.0  # softmax < 1: nothing passes
    feats, metas, _ = inputs(num_imgs=1)
    result = head.predict_by_feat(*head(feats), batch_img_metas=metas,
                                  rescale=True)[0]
    assert len(result) == 0
    assert result.cls_probs.shape == (0, 6)


def test_rejects_sigmoid_loss_and_mismatched_cost_matrix():
    with pytest.raises(ValueError, match='use_sigmoid=False'):
        CSSSDHead(**head_kwargs(),
                  loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True))
    kwargs = head_kwargs()
    kwargs['num_classes'] = 5
    with pytest.raises(ValueError, match='num_classes=5'):
        CSSSDHead(**kwargs, loss_cls=cs_loss_cfg())
    assert isinstance(
        CSSSDHead(**head_kwargs(), loss_cls=cs_loss_cfg()).loss_cls,
        CostSensitiveLoss)
