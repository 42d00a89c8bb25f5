"""YOLOv5Head: assignment, CIoU, loss (against an independent loop-based
formulation of docs/yolov5.md), bias init, anchors and inference."""
import math

import pytest
import torch
from mmengine.structures import InstanceData

import csdet.models.dense_heads.yolov5_head as head_module
from csdet.models.dense_heads import YOLOv5Head
from csdet.models.dense_heads.yolov5_head import bbox_ciou_yolov5
from csdet.datasets import NEU_DET_CLASSES

NEU_CLASSES = NEU_DET_CLASSES
ANCHORS = [[(10, 13), (16, 30), (33, 23)], [(30, 61), (62, 45), (59, 119)],
           [(116, 90), (156, 198), (373, 326)]]
STRIDES = (8, 16, 32)


def make_head(num_classes=6, **kwargs):
    kwargs.setdefault('widen_factor', 0.25)
    return YOLOv5Head(num_classes=num_classes, **kwargs)


def gt(boxes, labels):
    return InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long))


def random_maps(head, num_imgs, size, seed=0, scale=1.0):
    generator = torch.Generator().manual_seed(seed)
    channels = head.num_base_priors * head.num_attrib
    return [
        torch.randn(num_imgs, channels, size // s, size // s,
                    generator=generator) * scale for s in STRIDES
    ]


# --------------------------------------------------------------------- CIoU
def test_ciou_matches_hand_computation():
    # pred: centre (2, 2), 2 x 4 -> (1, 0, 3, 4); target: (3, 2), 4 x 2 ->
    # (1, 1, 5, 3). inter = 2 * 2 = 4, union = 8 + 8 - 4 = 12, IoU = 1/3.
    # enclosing box (1, 0, 5, 4): c^2 = 16 + 16 = 32; rho^2 = 1.
    # v = 4/pi^2 (atan(2) - atan(0.5))^2; alpha = v / (v - 1/3 + 1).
    pred = torch.tensor([[2.0, 2.0, 2.0, 4.0]])
    target = torch.tensor([[3.0, 2.0, 4.0, 2.0]])
    iou = 4 / 12
    v = 4 / math.pi**2 * (math.atan(2.0) - math.atan(0.5))**2
    alpha = v / (v - iou + 1)
    expected = iou - (1 / 32 + alpha * v)
    got = bbox_ciou_yolov5(pred, target)
    assert got.shape == (1, )
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_ciou_alpha_applies_below_half_iou_without_gradient():
    # IoU < 0.5 with different aspect ratios: the reference still subtracts
    # alpha * v (mmdet's ciou_loss would not), and alpha is a constant for
    # autograd.
    pred = torch.tensor([[0.0, 0.0, 1.0, 3.0]], requires_grad=True)
    target = torch.tensor([[1.0, 0.5, 3.0, 1.0]])
    ciou = bbox_ciou_yolov5(pred, target)
    ciou.sum().backward()
    grad = pred.grad.clone()

    # Same value with alpha frozen by hand.
    p = pred.detach().clone().requires_grad_(True)
    px, py, pw, ph = p[0]
    tx, ty, tw, th = target[0]
    ix = (torch.minimum(px + pw / 2, tx + tw / 2) -
          torch.maximum(px - pw / 2, tx - tw / 2)).clamp(0)
    iy = (torch.minimum(py + ph / 2, ty + th / 2) -
          torch.maximum(py - ph / 2, ty - th / 2)).clamp(0)
    inter = ix * iy
    iou = inter / (pw * ph + tw * th - inter + 1e-7)
    cw = torch.maximum(px + pw / 2, tx + tw / 2) - torch.minimum(
        px - pw / 2, tx - tw / 2)
    ch = torch.maximum(py + ph / 2, ty + th / 2) - torch.minimum(
        py - ph / 2, ty - th / 2)
    rho2 = (px - tx)**2 + (py - ty)**2
    v = 4 / math.pi**2 * (torch.atan(tw / th) - torch.atan(pw / ph))**2
    alpha = (v / (v - iou + 1 + 1e-7)).detach()
    manual = iou - (rho2 / (cw**2 + ch**2 + 1e-7) + alpha * v)
    manual.backward()
    assert iou.item() < 0.5 and v.item() > 0.1
    assert ciou.item() == pytest.approx(manual.item(), rel=1e-6)
    assert torch.allclose(grad, p.grad, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------- assignment
def test_gt_near_cell_corner_gets_own_cell_and_two_neighbours():
    head = make_head()
    # 64 px image -> P3 grid 8 x 8. Centre at grid (3.2, 4.3): frac x 0.2 and
    # frac y 0.3 < 0.5 -> left (2, 4) and up (3, 3); not right/down.
    # Size 40 x 10 px: anchor (10, 13) has w ratio exactly 4.0 -> rejected
    # (the rule is strict '<'); (16, 30) and (33, 23) pass.
    cx, cy = 3.2 * 8, 4.3 * 8
    targets = head.gt_instances_to_targets(
        [gt([[cx - 20, cy - 5, cx + 20, cy + 5]], [2])], torch.device('cpu'))
    assigned = head.assign_level(targets, 0, (8, 8))
    cells = set(
        zip(assigned['anchor_inds'].tolist(), assigned['grid_x'].tolist(),
            assigned['grid_y'].tolist()))
    assert cells == {(a, x, y) for a in (1, 2)
                     for x, y in ((3, 4), (2, 4), (3, 3))}
    assert assigned['img_inds'].tolist() == [0] * 6
    assert assigned['labels'].tolist() == [2] * 6
    # Target xy relative to the assigned cell, in (-0.5, 1.5).
    rel = assigned['target_boxes'][:, :2]
    expected = torch.tensor([3.2, 4.3]) - torch.stack(
        (assigned['grid_x'], assigned['grid_y']), 1).float()
    assert torch.allclose(rel, expected, atol=1e-5)
    assert torch.allclose(assigned['target_boxes'][:, 2:],
                          torch.tensor([5.0, 1.25]).expand(6, 2))
    assert torch.allclose(assigned['anchors'],
                          torch.tensor(ANCHORS[0],
                                       dtype=torch.float32)[
                                           assigned['anchor_inds']] / 8)
    # No anchor of P4 / P5 is within ratio 4 of a 40 x 10 box.
    assert assigned['img_inds'].numel() == 6
    assert head.assign_level(targets, 1, (4, 4))['img_inds'].numel() == 0
    assert head.assign_level(targets, 2, (2, 2))['img_inds'].numel() == 0


def test_opposite_corner_picks_right_and_down():
    head = make_head()
    cx, cy = 3.7 * 8, 4.6 * 8  # frac > 0.5 -> right (4, 4), down (3, 5)
    targets = head.gt_instances_to_targets(
        [gt([[cx - 6, cy - 7, cx + 6, cy + 7]], [0])], torch.device('cpu'))
    assigned = head.assign_level(targets, 0, (8, 8))
    per_anchor = {}
    for a, x, y in zip(assigned['anchor_inds'].tolist(),
                       assigned['grid_x'].tolist(),
                       assigned['grid_y'].tolist()):
        per_anchor.setdefault(a, []).append((x, y))
    assert set(per_anchor) == {0, 1, 2}
    for cells in per_anchor.values():
        # order: own, left, up, right, down
        assert cells == [(3, 4), (4, 4), (3, 5)]


def test_border_gts_get_no_outside_neighbour_and_are_clamped():
    head = make_head()
    # Centre x = 0.3 cells: left would need x > 1 -> none; centre y = 7.9:
    # down would need H - y > 1 -> none. A second gt centred exactly on the
    # right border (x = 8.0) is clamped to column 7.
    boxes = [[0.3 * 8 - 6, 7.9 * 8 - 6, 0.3 * 8 + 6, 7.9 * 8 + 6],
             [64.0 - 6, 20.0 - 6, 64.0 + 6, 20.0 + 6]]
    targets = head.gt_instances_to_targets([gt(boxes, [0, 1])],
                                           torch.device('cpu'))
    assigned = head.assign_level(targets, 0, (8, 8))
    first = assigned['labels'] == 0
    assert set(zip(assigned['grid_x'][first].tolist(),
                   assigned['grid_y'][first].tolist())) == {(0, 7)}
    second = assigned['labels'] == 1
    assert assigned['grid_x'][second].max().item() == 7
    assert (assigned['grid_x'] >= 0).all() and (assigned['grid_y'] <= 7).all()
    # Clamped cell: the target offset is measured from the clamped cell.
    own = second & (assigned['grid_x'] == 7)
    assert torch.allclose(assigned['target_boxes'][own, 0],
                          torch.full((int(own.sum()), ), 1.0))


def test_ratio_filter_both_directions():
    head = make_head()
    # 4 x 4 px at P3: anchor (10, 13) ratio 3.25 -> kept; (16, 30) 7.5 and
    # (33, 23) 8.25 -> rejected.
    targets = head.gt_instances_to_targets([gt([[30, 30, 34, 34]], [0])],
                                           torch.device('cpu'))
    assigned = head.assign_level(targets, 0, (8, 8))
    assert set(assigned['anchor_inds'].tolist()) == {0}


def test_empty_targets():
    head = make_head()
    targets = head.gt_instances_to_targets([gt([], [])], torch.device('cpu'))
    assert targets.shape == (0, 6)
    assigned = head.assign_level(targets, 0, (8, 8))
    assert all(v.shape[0] == 0 for v in assigned.values())


# --------------------------------------------------- reference loss (spec)
def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def _bce_logits(x, t):
    return max(x, 0) - x * t + math.log1p(math.exp(-abs(x)))


def _ciou_scalar(b1, b2, eps=1e-7):
    (x1, y1, w1, h1), (x2, y2, w2, h2) = b1, b2
    ix = max(min(x1 + w1 / 2, x2 + w2 / 2) - max(x1 - w1 / 2, x2 - w2 / 2), 0)
    iy = max(min(y1 + h1 / 2, y2 + h2 / 2) - max(y1 - h1 / 2, y2 - h2 / 2), 0)
    inter = ix * iy
    iou = inter / (w1 * h1 + w2 * h2 - inter + eps)
    cw = max(x1 + w1 / 2, x2 + w2 / 2) - min(x1 - w1 / 2, x2 - w2 / 2)
    ch = max(y1 + h1 / 2, y2 + h2 / 2) - min(y1 - h1 / 2, y2 - h2 / 2)
    rho2 = (x1 - x2)**2 + (y1 - y2)**2
    v = 4 / math.pi**2 * (math.atan(w2 / h2) - math.atan(w1 / h1))**2
    alpha = v / (v - iou + 1 + eps)
    return iou - (rho2 / (cw**2 + ch**2 + eps) + alpha * v)


def reference_loss(pred_maps, gts_per_img, num_classes, imgsz,
                   anchor_t=4.0, balance=(4.0, 1.0, 0.4), eps_ls=0.0):
    """docs/yolov5.md "Target assignment" + "Loss", one gt at a time.

    Assumes no two gts share an (image, anchor, cell) slot (objectness
    target overwrite order is then irrelevant).
    """
    num_attrib = 5 + num_classes
    num_imgs = pred_maps[0].shape[0]
    lbox = lobj = lcls = 0.0
    for level, (pred, stride) in enumerate(zip(pred_maps, STRIDES)):
        pred = pred.double()
        height, width = pred.shape[2:]
        tobj = torch.zeros(num_imgs, 3, height, width, dtype=torch.float64)
        box_terms, cls_terms = [], []
        for img, (boxes, labels) in enumerate(gts_per_img):
            for (x1, y1, x2, y2), label in zip(boxes, labels):
                gx, gy = (x1 + x2) / 2 / stride, (y1 + y2) / 2 / stride
                gw, gh = (x2 - x1) / stride, (y2 - y1) / stride
                for a, (aw, ah) in enumerate(ANCHORS[level]):
                    aw, ah = aw / stride, ah / stride
                    if max(gw / aw, aw / gw, gh / ah, ah / gh) >= anchor_t:
                        continue
                    cells = [(int(gx), int(gy))]
                    if gx % 1 < 0.5 and gx > 1:
                        cells.append((int(gx - 0.5), int(gy)))
                    if gy % 1 < 0.5 and gy > 1:
                        cells.append((int(gx), int(gy - 0.5)))
                    if (width - gx) % 1 < 0.5 and width - gx > 1:
                        cells.append((int(gx + 0.5), int(gy)))
                    if (height - gy) % 1 < 0.5 and height - gy > 1:
                        cells.append((int(gx), int(gy + 0.5)))
                    for cx, cy in cells:
                        cx = min(max(cx, 0), width - 1)
                        cy = min(max(cy, 0), height - 1)
                        p = pred[img, a * num_attrib:(a + 1) * num_attrib,
                                 cy, cx].tolist()
                        box = (_sigmoid(p[0]) * 2 - 0.5 + cx,
                               _sigmoid(p[1]) * 2 - 0.5 + cy,
                               (_sigmoid(p[2]) * 2)**2 * aw,
                               (_sigmoid(p[3]) * 2)**2 * ah)
                        ciou = _ciou_scalar(box, (gx, gy, gw, gh))
                        box_terms.append(1 - ciou)
                        tobj[img, a, cy, cx] = max(ciou, 0.0)
                        for c in range(num_classes):
                            t = (1 - eps_ls / 2) if c == label else eps_ls / 2
                            cls_terms.append(_bce_logits(p[5 + c], t))
        if box_terms:
            lbox += sum(box_terms) / len(box_terms)
            if num_classes > 1:
                lcls += sum(cls_terms) / len(cls_terms)
        obj_logits = pred.view(num_imgs, 3, num_attrib, height, width)[:, :,
                                                                      4]
        lobj += balance[level] * torch.nn.functional.\
            binary_cross_entropy_with_logits(obj_logits, tobj).item()
    return dict(
        loss_bbox=0.05 * lbox * num_imgs,
        loss_obj=1.0 * (imgsz / 640)**2 * lobj * num_imgs,
        loss_cls=0.5 * num_classes / 80 * lcls * num_imgs)


SPARSE_GTS = [
    # image 0: a small gt (P3 only) and a large one (P3, P4, P5)
    ([[14.6, 20.3, 26.6, 34.3], [25.0, 19.0, 65.0, 69.0]], [1, 4]),
    # image 1: one medium gt
    ([[30.0, 8.0, 58.0, 40.0]], [5]),
    # image 2: background only
    ([], []),
]


def _instances(gts):
    return [gt(boxes, labels) for boxes, labels in gts]


@pytest.mark.parametrize('imgsz,eps_ls', [(640, 0.0), (192, 0.1)])
def test_loss_matches_independent_reference(imgsz, eps_ls):
    head = make_head(imgsz=imgsz, label_smoothing=eps_ls)
    maps = random_maps(head, 3, 96, seed=1)
    losses = head.loss_by_feat(maps, _instances(SPARSE_GTS), [{}] * 3)
    expected = reference_loss(maps, SPARSE_GTS, 6, imgsz, eps_ls=eps_ls)
    assert set(losses) == {'loss_bbox', 'loss_obj', 'loss_cls'}
    for key, value in expected.items():
        assert value > 0
        assert losses[key].item() == pytest.approx(value, rel=1e-5), key


def test_loss_scales_with_batch_and_world_size(monkeypatch):
    head = make_head()
    maps = random_maps(head, 1, 64, seed=2)
    one = head.loss_by_feat(maps, _instances(SPARSE_GTS[:1]), [{}])
    doubled = [torch.cat((m, m)) for m in maps]
    two = head.loss_by_feat(doubled, _instances(SPARSE_GTS[:1] * 2), [{}] * 2)
    for key in one:
        assert two[key].item() == pytest.approx(2 * one[key].item(),
                                                rel=1e-5)
    monkeypatch.setattr(head_module, 'get_world_size', lambda: 4)
    ddp = head.loss_by_feat(maps, _instances(SPARSE_GTS[:1]), [{}])
    for key in one:
        assert ddp[key].item() == pytest.approx(4 * one[key].item(),
                                                rel=1e-6)


def test_no_gt_batch_gives_only_objectness_loss():
    head = make_head()
    maps = [m.requires_grad_() for m in random_maps(head, 2, 64, seed=3)]
    losses = head.loss_by_feat(maps, _instances([([], [])] * 2), [{}] * 2)
    assert losses['loss_bbox'].item() == 0
    assert losses['loss_cls'].item() == 0
    assert losses['loss_obj'].item() > 0
    sum(losses.values()).backward()
    assert all(m.grad is not None for m in maps)


def test_single_class_has_no_class_loss():
    head = make_head(num_classes=1)
    maps = random_maps(head, 1, 64, seed=4)
    gts = [([[14.6, 20.3, 26.6, 34.3]], [0])]
    losses = head.loss_by_feat(maps, _instances(gts), [{}])
    expected = reference_loss(maps, gts, 1, 640)
    assert losses['loss_cls'].item() == 0
    assert losses['loss_bbox'].item() == pytest.approx(
        expected['loss_bbox'], rel=1e-5)


# ------------------------------------------------------ cost-sensitive loss
def _cs_loss_cfg(cost_weight):
    return dict(
        type='CostSensitiveLoss',
        use_sigmoid=True,
        reduction='mean',
        loss_weight=0.5,
        cost_weight=cost_weight,
        classes=NEU_CLASSES,
        positive_classes=('patches', 'pitted_surface', 'inclusion',
                          'scratches'))


def test_cost_sensitive_loss_with_zero_cost_equals_plain_loss():
    pytest.importorskip('csdet.models.losses.cost_sensitive_loss')
    plain = make_head()
    cost_free = make_head(loss_cls=_cs_loss_cfg(0.0))
    maps = random_maps(plain, 3, 96, seed=5)
    plain_losses = plain.loss_by_feat(maps, _instances(SPARSE_GTS), [{}] * 3)
    cs_losses = cost_free.loss_by_feat(maps, _instances(SPARSE_GTS),
                                       [{}] * 3)
    assert set(cs_losses) == {
        'loss_bbox', 'loss_obj', 'loss_cls_ce', 'loss_cls_cost'
    }
    assert torch.equal(cs_losses['loss_cls_ce'], plain_losses['loss_cls'])
    assert cs_losses['loss_cls_cost'].item() == 0
    for key in ('loss_bbox', 'loss_obj'):
        assert torch.equal(cs_losses[key], plain_losses[key])


def test_cost_sensitive_loss_adds_a_positive_cost_part():
    pytest.importorskip('csdet.models.losses.cost_sensitive_loss')
    plain = make_head()
    costly = make_head(loss_cls=_cs_loss_cfg(1.0))
    maps = [m.requires_grad_() for m in random_maps(plain, 3, 96, seed=5)]
    plain_losses = plain.loss_by_feat(maps, _instances(SPARSE_GTS), [{}] * 3)
    cs_losses = costly.loss_by_feat(maps, _instances(SPARSE_GTS), [{}] * 3)
    assert torch.allclose(cs_losses['loss_cls_ce'], plain_losses['loss_cls'])
    assert cs_losses['loss_cls_cost'].item() > 0
    # Gradient flows through the cost part into the class logits.
    cs_losses['loss_cls_cost'].backward()
    assert any(m.grad.abs().sum() > 0 for m in maps)


def test_label_smoothing_set_twice_is_rejected():
    pytest.importorskip('csdet.models.losses.cost_sensitive_loss')
    cfg = dict(_cs_loss_cfg(1.0), label_smoothing=0.1)
    with pytest.raises(ValueError, match='label smoothing'):
        make_head(loss_cls=cfg, label_smoothing=0.1)


# ---------------------------------------------------------------- bias init
@pytest.mark.parametrize('num_classes', [6, 80])
def test_bias_init(num_classes):
    torch.manual_seed(0)
    head = make_head(num_classes=num_classes)
    for _ in range(2):  # idempotent: init_weights may run more than once
        for conv, stride in zip(head.convs_pred, STRIDES):
            bias = conv.bias.detach().view(3, 5 + num_classes)
            bound = 1 / math.sqrt(conv.in_channels)  # PyTorch default init
            obj = math.log(8 / (640 / stride)**2)
            cls = math.log(0.6 / (num_classes - 0.99999))
            assert ((bias[:, 4] - obj).abs() <= bound + 1e-6).all()
            assert ((bias[:, 5:] - cls).abs() <= bound + 1e-6).all()
            assert (bias[:, :4].abs() <= bound + 1e-6).all()
        head.init_weights()


# ------------------------------------------------------------------ anchors
def test_set_anchors_updates_generator_and_state_dict():
    head = make_head()
    new = [[(5, 6), (8, 9), (12, 10)], [(20, 25), (30, 20), (28, 40)],
           [(50, 45), (70, 80), (120, 110)]]
    head.set_anchors(new)
    assert head.prior_generator.base_sizes[0][0] == (5.0, 6.0)
    assert torch.equal(head.anchors, torch.tensor(new, dtype=torch.float32))
    # Decoding uses them: prior widths equal the new anchors.
    priors = head.prior_generator.grid_priors([(2, 2)] * 3, device='cpu')
    assert torch.allclose(priors[2][:3, 2] - priors[2][:3, 0],
                          torch.tensor([50.0, 70.0, 120.0]))
    # A checkpoint carries them; the generator follows after loading.
    fresh = make_head()
    fresh.load_state_dict(head.state_dict())
    fresh.predict_by_feat(random_maps(fresh, 1, 64), [{}])
    assert fresh.prior_generator.base_sizes == head.prior_generator.base_sizes
    with pytest.raises(ValueError, match='expected shape'):
        head.set_anchors([[(1, 2)]])


# ---------------------------------------------------------------- inference
def _silent_maps(head, size):
    """Maps whose every prediction is far below the score threshold."""
    return [
        torch.full((1, head.num_base_priors * head.num_attrib, size // s,
                    size // s), -20.0) for s in STRIDES
    ]


def _set_prediction(head, maps, level, anchor, y, x, values):
    offset = anchor * head.num_attrib
    maps[level][0, offset:offset + len(values), y, x] = torch.tensor(values)


def test_predict_decodes_one_box_with_cls_probs_and_rescales():
    head = make_head(test_cfg=dict(score_thr=0.001,
                                   nms=dict(type='nms', iou_threshold=0.6),
                                   max_per_img=300, multi_label=True))
    maps = _silent_maps(head, 64)
    # P4 (stride 16), anchor 1 = (62, 45), cell (x=2, y=1); tx = ty = 0 ->
    # xy = (0.5 * 2 - 0.5 + cell) * 16 = (40, 24); tw = th = 0 -> wh = anchor.
    cls_logits = [-20.0, 1.0, -20.0, -20.0, -20.0, -20.0]
    _set_prediction(head, maps, 1, 1, 1, 2, [0, 0, 0, 0, 2.0] + cls_logits)
    meta = dict(scale_factor=(0.5, 0.25), pad_param=[4, 4, 2, 2],
                ori_shape=(100, 200))
    (raw, ) = head.predict_by_feat(maps, [meta], rescale=False)
    (rescaled, ) = head.predict_by_feat(maps, [meta], rescale=True)
    assert len(raw) == 1
    assert torch.allclose(raw.bboxes,
                          torch.tensor([[40 - 31, 24 - 22.5, 40 + 31,
                                         24 + 22.5]]))
    expected_probs = torch.tensor(cls_logits).sigmoid()
    assert raw.cls_probs.shape == (1, 6)
    assert torch.allclose(raw.cls_probs[0], expected_probs)
    assert raw.labels.tolist() == [1]
    assert raw.scores.item() == pytest.approx(
        _sigmoid(2.0) * _sigmoid(1.0), rel=1e-5)
    # Rescale: subtract (left, top) = (2, 4), divide by (0.5, 0.25), clip.
    x1, y1, x2, y2 = raw.bboxes[0].tolist()
    expected = torch.tensor([(x1 - 2) / 0.5, (y1 - 4) / 0.25, (x2 - 2) / 0.5,
                             (y2 - 4) / 0.25])
    expected[0::2] = expected[0::2].clamp(0, 200)
    expected[1::2] = expected[1::2].clamp(0, 100)
    assert torch.allclose(rescaled.bboxes[0], expected, atol=1e-4)
    assert torch.equal(rescaled.cls_probs, raw.cls_probs)


def test_multi_label_keeps_each_class_with_the_same_probs():
    maps_cfg = dict(nms=dict(type='nms', iou_threshold=0.6), max_per_img=300,
                    score_thr=0.001)
    head = make_head(test_cfg=dict(maps_cfg, multi_label=True))
    maps = _silent_maps(head, 64)
    _set_prediction(head, maps, 0, 0, 3, 3,
                    [0, 0, 0, 0, 3.0, 2.0, -20, 0.5, -20, -20, -20])
    (multi, ) = head.predict_by_feat(maps, [{}])
    assert sorted(multi.labels.tolist()) == [0, 2]
    assert torch.equal(multi.cls_probs[0], multi.cls_probs[1])
    (single, ) = head.predict_by_feat(
        maps, [{}], cfg=dict(maps_cfg, multi_label=False))
    assert single.labels.tolist() == [0]
    assert single.cls_probs.shape == (1, 6)


def test_predict_limits_and_shapes_on_random_maps():
    head = make_head(test_cfg=dict(score_thr=0.001,
                                   nms=dict(type='nms', iou_threshold=0.6),
                                   max_per_img=50, multi_label=True))
    results = head.predict_by_feat(random_maps(head, 2, 64, seed=6),
                                   [{}, {}])
    for result in results:
        assert 0 < len(result) <= 50
        assert result.cls_probs.shape == (len(result), 6)
        assert result.bboxes.shape == (len(result), 4)
        assert (result.scores[:-1] >= result.scores[1:]).all()
        # score = obj * cls <= the class probability it came from
        picked = result.cls_probs[torch.arange(len(result)), result.labels]
        assert (result.scores <= picked + 1e-6).all()


def test_rescale_without_scale_factor_is_a_clear_error():
    head = make_head(test_cfg=dict(score_thr=0.001, max_per_img=10,
                                   nms=dict(type='nms', iou_threshold=0.6)))
    with pytest.raises(KeyError, match='scale_factor'):
        head.predict_by_feat(random_maps(head, 1, 64), [{}], rescale=True)


def test_unknown_train_cfg_key_is_rejected():
    with pytest.raises(KeyError, match='anchor_t'):
        make_head(train_cfg=dict(anchor_thr=4.0))
