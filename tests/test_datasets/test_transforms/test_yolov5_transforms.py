"""YOLOv5 transforms against the Ultralytics v7.0 formulas (docs/yolov5.md)."""
import random

import cv2
import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes

from csdet.datasets.transforms import (LetterBox, YOLOv5HSVRandomAug,
                                       YOLOv5Mosaic, YOLOv5RandomPerspective)
from csdet.datasets.transforms.yolov5_transforms import (box_candidates,
                                                         hsv_lookup_tables)
from csdet.models.dense_heads.yolov5_head import YOLOv5Head


def _sample(height, width, box, intensity, label):
    """Black image with one filled box of the given grey intensity."""
    img = np.zeros((height, width, 3), np.uint8)
    x1, y1, x2, y2 = box
    img[y1:y2, x1:x2] = intensity
    return dict(
        img=img,
        img_shape=(height, width),
        gt_bboxes=HorizontalBoxes(np.array([box], np.float32)),
        gt_bboxes_labels=np.array([label]),
        gt_ignore_flags=np.array([False]))


def _bright_bbox(img, box, level, margin=3):
    """Bounding box of the pixels brighter than ``level`` near ``box``."""
    height, width = img.shape[:2]
    x1, y1, x2, y2 = box
    x1, y1 = max(int(x1) - margin, 0), max(int(y1) - margin, 0)
    x2, y2 = min(int(np.ceil(x2)) + margin, width), min(
        int(np.ceil(y2)) + margin, height)
    patch = img[y1:y2, x1:x2, 0].astype(int)
    ys, xs = np.nonzero(patch > level)
    return np.array([xs.min() + x1, ys.min() + y1, xs.max() + x1 + 1,
                     ys.max() + y1 + 1], float)


INTENSITIES = (150, 180, 210, 240)


def _mosaic_inputs():
    """Four images of different sizes, one box each, label k <-> intensity."""
    shapes_boxes = [((200, 200), (20, 30, 120, 90)),
                    ((300, 150), (10, 200, 140, 290)),
                    ((120, 240), (100, 10, 230, 100)),
                    ((160, 160), (40, 40, 150, 150))]
    samples = [
        _sample(h, w, box, INTENSITIES[k], k)
        for k, ((h, w), box) in enumerate(shapes_boxes)
    ]
    results = samples[0]
    results['mix_results'] = samples[1:]
    return results


@pytest.mark.parametrize('seed', range(8))
def test_mosaic_size_boxes_inside_and_match_content(seed):
    random.seed(seed)
    size = 96
    out = YOLOv5Mosaic(img_scale=size)(_mosaic_inputs())
    img = out['img']
    assert img.shape == (2 * size, 2 * size, 3)
    assert out['img_shape'] == (2 * size, 2 * size)
    boxes = out['gt_bboxes'].numpy()
    assert isinstance(out['gt_bboxes'], HorizontalBoxes)
    assert len(boxes) == len(out['gt_bboxes_labels']) == len(
        out['gt_ignore_flags'])
    assert (boxes >= 0).all() and (boxes <= 2 * size).all()
    assert ((boxes[:, 2:] - boxes[:, :2]) > 0).all()
    # No pixel of the canvas outside the tiles is anything but the fill or
    # tile content; the fill is 114.
    assert (img == 114).any()
    for box, label in zip(boxes, out['gt_bboxes_labels']):
        w, h = box[2:] - box[:2]
        if w < 4 or h < 4:  # a sliver at the border: too thin to measure
            continue
        # Threshold between the box grey and the 114 fill / black image.
        bright = _bright_bbox(img, box, (INTENSITIES[label] + 114) / 2)
        # The box tightly covers its bright region (bilinear edges: 1.5 px).
        np.testing.assert_allclose(bright, box, atol=1.5)
        cx, cy = ((box[:2] + box[2:]) / 2).astype(int)
        assert abs(int(img[cy, cx, 0]) - INTENSITIES[label]) <= 2


def test_mosaic_tiles_resized_long_side_and_all_images_used():
    random.seed(3)
    out = YOLOv5Mosaic(img_scale=64)(_mosaic_inputs())
    # Every box (one per image) is large enough to survive some clipping
    # for this seed; labels are a permutation of the four sources.
    assert sorted(out['gt_bboxes_labels'].tolist()) == [0, 1, 2, 3]
    areas = {label: np.prod(b[2:] - b[:2])
             for b, label in zip(out['gt_bboxes'].numpy(),
                                 out['gt_bboxes_labels'])}
    # Image 3 (160 px) is scaled by 64/160; its 110x110 box becomes 44x44
    # when not clipped.
    assert areas[3] <= 44 * 44 + 1e-3


def test_mosaic_get_indexes_draws_three_with_replacement():
    random.seed(0)
    mosaic = YOLOv5Mosaic(img_scale=32)
    draws = [mosaic.get_indexes(list(range(2))) for _ in range(50)]
    assert all(len(d) == 3 and set(d) <= {0, 1} for d in draws)
    assert any(len(set(d)) < 3 for d in draws)  # replacement happens


def test_mosaic_needs_mix_results():
    with pytest.raises(KeyError, match='MultiImageMixDataset'):
        YOLOv5Mosaic(img_scale=32)(_sample(32, 32, (1, 1, 9, 9), 200, 0))


def test_mosaic_centre_range():
    size = 64
    mosaic = YOLOv5Mosaic(img_scale=size)
    centres = []
    for seed in range(200):
        random.seed(seed)
        samples = [_sample(64, 64, (0, 0, 64, 64), 200, 0) for _ in range(4)]
        results = samples[0]
        results['mix_results'] = samples[1:]
        img = mosaic(results)['img']
        # The union of four full 64 px tiles around (xc, yc) is the square
        # [xc - 64, xc + 64) clipped to the canvas, so the bright region
        # starts at max(xc - 64, 0) and ends at min(xc + 64, 128).
        cols = np.nonzero(img[:, :, 0].max(0) == 200)[0]
        centres.append(cols.min() + 64 if cols.min() > 0 else cols.max() + 1
                       - 64)
    centres = np.array(centres)
    assert centres.min() >= size // 2 and centres.max() <= 3 * size // 2
    assert centres.min() < size // 2 + 6 and centres.max() > 3 * size // 2 - 6


# ----------------------------------------------------------- perspective
def test_perspective_identity_without_randomness():
    img = np.random.RandomState(0).randint(0, 255, (40, 60, 3), np.uint8)
    transform = YOLOv5RandomPerspective(translate=0.0, scale=0.0)
    results = _sample(40, 60, (5, 6, 30, 20), 200, 1)
    results['img'] = img.copy()
    out = transform(results)
    np.testing.assert_array_equal(out['img'], img)
    np.testing.assert_allclose(out['gt_bboxes'].numpy(), [[5, 6, 30, 20]])


def test_perspective_border_crops_centre():
    img = np.random.RandomState(1).randint(0, 255, (64, 64, 3), np.uint8)
    transform = YOLOv5RandomPerspective(
        translate=0.0, scale=0.0, border=(-16, -16))
    out = transform(dict(img=img.copy(), img_shape=(64, 64)))
    assert out['img'].shape == (32, 32, 3)
    np.testing.assert_array_equal(out['img'], img[16:48, 16:48])


def test_perspective_scale_and_translate_ranges():
    random.seed(0)
    transform = YOLOv5RandomPerspective()  # hyp: translate 0.1, scale 0.5
    gains, shifts = [], []
    for _ in range(400):
        matrix, gain = transform.sample_matrix((200, 200), (100, 100))
        gains.append(gain)
        np.testing.assert_allclose(matrix[0, 0], gain)  # no rotation/shear
        np.testing.assert_allclose(matrix[0, 1], 0, atol=1e-12)
        np.testing.assert_allclose(matrix[2], [0, 0, 1])
        # The input centre (100, 100) lands on the translation T.
        shifts.append((matrix @ np.array([100, 100, 1.0]))[:2])
    gains, shifts = np.array(gains), np.array(shifts)
    assert gains.min() >= 0.5 and gains.max() <= 1.5
    assert gains.min() < 0.55 and gains.max() > 1.45
    assert shifts.min() >= 40 and shifts.max() <= 60
    assert shifts.min() < 41 and shifts.max() > 59


@pytest.mark.parametrize('seed', range(6))
def test_perspective_boxes_follow_content(seed):
    random.seed(seed)
    size = 64
    boxes = [(10, 12, 40, 30), (60, 50, 100, 110), (90, 5, 126, 40)]
    img = np.zeros((2 * size, 2 * size, 3), np.uint8)
    for k, (x1, y1, x2, y2) in enumerate(boxes):
        img[y1:y2, x1:x2] = INTENSITIES[k]
    results = dict(
        img=img, img_shape=img.shape[:2],
        gt_bboxes=HorizontalBoxes(np.array(boxes, np.float32)),
        gt_bboxes_labels=np.arange(3), gt_ignore_flags=np.zeros(3, bool))
    out = YOLOv5RandomPerspective(border=(-size // 2, -size // 2))(results)
    assert out['img'].shape == (size, size, 3)
    kept = out['gt_bboxes'].numpy()
    assert (kept >= 0).all() and (kept <= size).all()
    for box, label in zip(kept, out['gt_bboxes_labels']):
        bright = _bright_bbox(out['img'], box,
                              (INTENSITIES[label] + 114) / 2)
        np.testing.assert_allclose(bright, box, atol=1.5)
        cx, cy = ((box[:2] + box[2:]) / 2).astype(int)
        assert abs(int(out['img'][cy, cx, 0]) - INTENSITIES[label]) <= 3


def test_box_candidates_rule():
    before = np.array([[0, 0, 10, 10]] * 5, float)
    after = np.array([
        [0, 0, 10, 10],    # unchanged: kept
        [0, 0, 2, 10],     # width 2 (not > 2): removed
        [0, 0, 3, 3],      # area 9 / 100 = 0.09 <= 0.1: removed
        [0, 0, 4, 3],      # area 12 / 100 > 0.1, w, h > 2: kept
        [0, 0, 9.9, 10],   # kept
    ], float)
    assert box_candidates(before, after).tolist() == [True, False, False,
                                                      True, True]
    # aspect ratio >= 100 removed
    long_before = np.array([[0, 0, 1000, 9]], float)
    assert not box_candidates(long_before, np.array([[0, 0, 900, 3]]),
                              area_thr=0.0)[0]
    assert box_candidates(long_before, np.array([[0, 0, 290, 3]]),
                          area_thr=0.0)[0]


# ------------------------------------------------------------------ HSV
def test_hsv_lookup_tables_hand_values():
    lut_hue, lut_sat, lut_val = hsv_lookup_tables([1.01, 1.5, 0.5])
    assert lut_hue[100] == 101  # 101.0 mod 180
    assert lut_hue[179] == 0  # 180.79 mod 180 = 0.79 -> 0
    assert lut_sat[100] == 150 and lut_sat[200] == 255  # 300 clipped
    assert lut_val[201] == 100  # 100.5 truncated
    assert lut_hue.dtype == lut_sat.dtype == lut_val.dtype == np.uint8
    lut_hue, _, _ = hsv_lookup_tables([2.0, 1.0, 1.0])
    assert lut_hue[100] == 20  # 200 mod 180


def test_hsv_grey_stays_grey_with_value_gain():
    img = np.repeat(np.arange(0, 250, 10, dtype=np.uint8)[None, :, None],
                    3, axis=2)
    img = np.repeat(img, 4, axis=0)
    transform = YOLOv5HSVRandomAug()
    for seed in range(5):
        np.random.seed(seed)
        gains = np.random.uniform(-1, 1, 3) * [0.015, 0.7, 0.4] + 1
        np.random.seed(seed)
        out = transform(dict(img=img.copy()))['img']
        # Grey pixels have S = 0: the output stays grey and V is scaled by
        # the value gain through the LUT.
        assert (out[..., 0] == out[..., 1]).all()
        assert (out[..., 1] == out[..., 2]).all()
        expected = np.clip(img[..., 0] * gains[2], 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(out[..., 0], expected)


def test_hsv_colour_image_matches_reference_steps():
    rng = np.random.RandomState(0)
    img = rng.randint(0, 256, (8, 8, 3), np.uint8)
    np.random.seed(7)
    gains = np.random.uniform(-1, 1, 3) * [0.015, 0.7, 0.4] + 1
    hue, sat, val = cv2.split(cv2.cvtColor(img, cv2.COLOR_BGR2HSV))
    luts = hsv_lookup_tables(gains)
    expected = cv2.cvtColor(
        cv2.merge([cv2.LUT(c, lut) for c, lut in zip((hue, sat, val), luts)]),
        cv2.COLOR_HSV2BGR)
    np.random.seed(7)
    out = YOLOv5HSVRandomAug()(dict(img=img.copy()))['img']
    np.testing.assert_array_equal(out, expected)
    assert not np.array_equal(out, img)


# ------------------------------------------------------------ LetterBox
def _letterbox_input(height, width, box):
    img = np.full((height, width, 3), 50, np.uint8)
    return dict(img=img, img_shape=(height, width), ori_shape=(height,
                                                               width),
                gt_bboxes=HorizontalBoxes(np.array([box], np.float32)))


def test_letterbox_full_pad_and_params():
    out = LetterBox(scale=192)(_letterbox_input(100, 200, (20, 10, 120, 60)))
    assert out['img'].shape == (192, 192, 3)
    assert out['img_shape'] == (192, 192)
    np.testing.assert_allclose(out['scale_factor'], (0.96, 0.96))
    np.testing.assert_array_equal(out['pad_param'], [48, 48, 0, 0])
    assert (out['img'][:48] == 114).all() and (out['img'][144:] == 114).all()
    assert (out['img'][48:144] == 50).all()
    np.testing.assert_allclose(out['gt_bboxes'].numpy(),
                               [[19.2, 9.6 + 48, 115.2, 57.6 + 48]],
                               rtol=1e-6)


def test_letterbox_rect_val_shape_like_reference():
    # val.py: 200 px square at imgsz 192 -> resized 192, batch shape
    # ceil(192 / 32 + 0.5) * 32 = 224, i.e. 16 px of padding per side.
    transform = LetterBox(scale=192, pad_to='stride', extra_pad_ratio=0.5)
    out = transform(_letterbox_input(200, 200, (0, 0, 200, 200)))
    assert out['img'].shape == (224, 224, 3)
    np.testing.assert_array_equal(out['pad_param'], [16, 16, 16, 16])
    # Minimal stride padding instead: 192 needs none.
    out = LetterBox(scale=192, pad_to='stride')(
        _letterbox_input(200, 200, (0, 0, 200, 200)))
    assert out['img'].shape == (192, 192, 3)


def test_letterbox_odd_padding_and_pred_boxes_map_back():
    box = np.array([[13.0, 27.0, 151.0, 170.0]])
    out = LetterBox(scale=192)(_letterbox_input(190, 200, tuple(box[0])))
    # ceil(190 * 0.96) = 183 rows -> dh = 9: top round(4.4)=4, bottom 5.
    np.testing.assert_array_equal(out['pad_param'], [4, 5, 0, 0])
    assert out['img'].shape == (192, 192, 3)
    img_meta = dict(pad_param=out['pad_param'],
                    scale_factor=out['scale_factor'], ori_shape=(190, 200))
    import torch
    pred = torch.tensor(out['gt_bboxes'].numpy())
    restored = YOLOv5Head._rescale_boxes(pred, img_meta).numpy()
    np.testing.assert_allclose(restored, box, atol=1e-3)


def test_letterbox_no_scale_up_and_missing_boxes():
    out = LetterBox(scale=192, allow_scale_up=False)(
        dict(img=np.zeros((100, 80, 3), np.uint8), img_shape=(100, 80)))
    assert out['img'].shape == (192, 192, 3)
    np.testing.assert_allclose(out['scale_factor'], (1.0, 1.0))
    np.testing.assert_array_equal(out['pad_param'], [46, 46, 56, 56])
    assert 'gt_bboxes' not in out
    up = LetterBox(scale=192)(dict(img=np.zeros((100, 80, 3), np.uint8)))
    # ceil(80 * 1.92) = 154 columns
    np.testing.assert_allclose(up['scale_factor'], (154 / 80, 1.92))
    assert up['img'].shape == (192, 192, 3)


def test_letterbox_bad_args():
    with pytest.raises(ValueError, match='pad_to'):
        LetterBox(scale=64, pad_to='edge')
    with pytest.raises(ValueError, match='interpolation'):
        LetterBox(scale=64, interpolation='cubic')
