"""YOLOv5Head post-processing: nms_top_k equals NMS over every candidate
followed by the cut to max_per_img, and predict_by_feat gives the detections
of the previous implementation (mmcv's batched_nms on all candidates)."""
import pytest
import torch
import torchvision
from mmcv.ops import batched_nms

from csdet.models.dense_heads import YOLOv5Head
from csdet.models.dense_heads.yolov5_head import nms_top_k

STRIDES = (8, 16, 32)
VAL_CFG = dict(score_thr=0.001, nms_pre=30000,
               nms=dict(type='nms', iou_threshold=0.6), max_per_img=300,
               multi_label=True)


def full_nms(bboxes, labels, iou, max_num):
    """Per-class NMS over every box, rank order, then the cut."""
    keep = torch.zeros(len(labels), dtype=torch.bool)
    ranks = torch.arange(len(labels), 0, -1).float()
    for label in labels.unique():
        members = (labels == label).nonzero(as_tuple=True)[0]
        keep[members[torchvision.ops.nms(bboxes[members], ranks[members],
                                         iou)]] = True
    keep = keep.nonzero(as_tuple=True)[0]
    return keep if max_num <= 0 else keep[:max_num]


def random_boxes(num, num_classes, seed, clustered=False):
    generator = torch.Generator().manual_seed(seed)
    if clustered:  # near-duplicates: most boxes are suppressed
        centres = torch.rand(8, 2, generator=generator) * 200
        xy = centres[torch.randint(0, 8, (num, ), generator=generator)]
        xy = xy + torch.randn(num, 2, generator=generator)
        wh = 40 + torch.randn(num, 2, generator=generator)
    else:
        xy = torch.rand(num, 2, generator=generator) * 300 - 50
        wh = torch.rand(num, 2, generator=generator) * 120 + 2
    bboxes = torch.cat((xy - wh / 2, xy + wh / 2), 1)
    labels = torch.randint(0, num_classes, (num, ), generator=generator)
    return bboxes, labels


@pytest.mark.parametrize('clustered', [False, True])
@pytest.mark.parametrize('max_num', [1, 10, 300, 2500, 0])
def test_nms_top_k_is_full_nms_then_the_cut(clustered, max_num):
    bboxes, labels = random_boxes(3000, 6, seed=4, clustered=clustered)
    got = nms_top_k(bboxes, labels, 0.6, max_num)
    expected = full_nms(bboxes, labels, 0.6, max_num)
    assert torch.equal(got, expected)
    assert got.dtype == torch.long
    if clustered:  # the first chunks keep too few: the prefix had to grow
        assert len(full_nms(bboxes[:600], labels[:600], 0.6, 0)) < 300


def test_nms_top_k_with_nothing_to_do():
    assert nms_top_k(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long),
                     0.6, 300).numel() == 0


def test_classes_never_suppress_each_other_outside_the_image():
    # A box around the top-left corner and one of another class up-left of
    # it: mmcv's class offset (max coordinate + 1 = 101 per class, on x and
    # y) moved the second onto the first and suppressed it; the reference
    # (offset 7680) and nms_top_k keep both.
    bboxes = torch.tensor([[-100., -100., 100., 100.], [-200., -200., 0., 0.]])
    labels = torch.tensor([0, 1])
    assert nms_top_k(bboxes, labels, 0.6, 300).tolist() == [0, 1]
    _, old_keep = batched_nms(bboxes, torch.tensor([0.9, 0.8]), labels,
                              dict(type='nms', iou_threshold=0.6))
    assert old_keep.tolist() == [0]


def head_and_maps(num_imgs, size, seed):
    head = YOLOv5Head(num_classes=6, widen_factor=0.25, test_cfg=VAL_CFG)
    generator = torch.Generator().manual_seed(seed)
    channels = head.num_base_priors * head.num_attrib
    maps = [torch.randn(num_imgs, channels, size // s, size // s,
                        generator=generator) for s in STRIDES]
    return head, maps


def previous_predictions(head, maps, cfg):
    """The head's post-processing before nms_top_k: every candidate through
    mmcv's batched_nms (boxes shifted to non-negative coordinates, where its
    class offset keeps classes apart), then the cut."""
    results = []
    for preds in head._decode(maps):
        objectness = preds[:, 4].sigmoid()
        candidates = objectness > cfg['score_thr']
        bboxes = preds[candidates, :4]
        cls_probs = preds[:, 5:].sigmoid()[candidates]
        scores = cls_probs * objectness[candidates, None]
        if cfg['multi_label']:
            inds, labels = (scores > cfg['score_thr']).nonzero(as_tuple=True)
            det_scores = scores[inds, labels]
        else:
            det_scores, labels = scores.max(1)
            inds = (det_scores > cfg['score_thr']).nonzero(as_tuple=True)[0]
            det_scores, labels = det_scores[inds], labels[inds]
        order = det_scores.argsort(descending=True)[:cfg['nms_pre']]
        inds, labels, det_scores = inds[order], labels[order], det_scores[
            order]
        shifted = bboxes[inds] - bboxes[inds].min()
        dets, keep = batched_nms(shifted, det_scores, labels, cfg['nms'])
        keep = keep[:cfg['max_per_img']]
        results.append(dict(bboxes=bboxes[inds[keep]],
                            scores=dets[:cfg['max_per_img'], -1],
                            labels=labels[keep],
                            cls_probs=cls_probs[inds[keep]]))
    return results


@pytest.mark.parametrize('cfg', [
    VAL_CFG,
    dict(VAL_CFG, max_per_img=50),
    dict(VAL_CFG, multi_label=False, score_thr=0.05, max_per_img=100),
])
def test_predictions_equal_the_previous_implementation(cfg):
    head, maps = head_and_maps(num_imgs=2, size=160, seed=7)
    got = head.predict_by_feat(maps, [{}, {}], cfg=cfg)
    expected = previous_predictions(head, maps, cfg)
    for ours, theirs in zip(got, expected):
        assert len(ours) == len(theirs['labels']) > 0
        assert torch.equal(ours.labels, theirs['labels'])
        assert torch.equal(ours.scores, theirs['scores'])
        assert torch.equal(ours.bboxes, theirs['bboxes'])
        assert torch.equal(ours.cls_probs, theirs['cls_probs'])
    # the val settings cut at 300 after NMS
    assert len(got[0]) == cfg['max_per_img']


def test_other_nms_types_still_go_to_mmcv():
    head, maps = head_and_maps(num_imgs=1, size=96, seed=8)
    cfg = dict(VAL_CFG, max_per_img=100,
               nms=dict(type='soft_nms', iou_threshold=0.3, min_score=0.05))
    (result, ) = head.predict_by_feat(maps, [{}], cfg=cfg)
    (expected, ) = previous_predictions(head, maps, cfg)
    assert len(result) == 100
    assert torch.equal(result.labels, expected['labels'])
    assert torch.equal(result.bboxes, expected['bboxes'])
    torch.testing.assert_close(result.scores, expected['scores'], rtol=0,
                               atol=1e-6)
