"""The shared greedy matching rule (csdet.evaluation.metrics.matching)."""
import numpy as np

from csdet.evaluation.metrics.matching import (IGNORED, UNMATCHED, box_iou,
                                               greedy_match)

GT = np.array([[0., 0., 10., 10.]])


def test_box_iou_by_hand():
    # [0,0,10,6] vs [0,0,10,10]: 60 / 100; [5,0,15,10]: 50 / 150
    ious = box_iou(np.array([[0, 0, 10, 6], [5, 0, 15, 10]]), GT)
    np.testing.assert_allclose(ious, [[0.6], [1 / 3]])
    assert box_iou(np.zeros((0, 4)), GT).shape == (0, 1)


def test_higher_score_wins_even_with_lower_iou():
    # A (0.9) has IoU 0.6, B (0.5) IoU 1.0: A is visited first and takes G
    dets = np.array([[0, 0, 10, 6], [0, 0, 10, 10]])
    assert greedy_match(np.array([0.9, 0.5]), dets, GT).tolist() == [
        0, UNMATCHED
    ]


def test_detection_takes_the_free_ground_truth_with_highest_iou():
    gts = np.array([[0, 0, 10, 8], [0, 0, 10, 9]])  # IoU 0.8 and 0.9
    dets = np.array([[0, 0, 10, 10], [0, 0, 10, 10]])
    # first det takes G1 (0.9), the second the remaining G0 (0.8)
    assert greedy_match(np.array([0.9, 0.8]), dets, gts).tolist() == [1, 0]


def test_iou_threshold_is_inclusive():
    det = np.array([[0, 0, 10, 5]])  # IoU exactly 0.5
    assert greedy_match(np.array([1.0]), det, GT, 0.5).tolist() == [0]
    assert greedy_match(np.array([1.0]), det, GT,
                        0.51).tolist() == [UNMATCHED]


def test_ignored_ground_truth_drops_detection_only_when_nothing_free():
    ignored = np.array([[50, 50, 60, 60]])
    dets = np.array([[50, 50, 60, 60], [0, 0, 10, 10], [30, 30, 40, 40]])
    result = greedy_match(np.array([0.9, 0.8, 0.7]), dets, GT, 0.5, ignored)
    assert result.tolist() == [IGNORED, 0, UNMATCHED]


def test_equal_scores_keep_output_order():
    dets = np.array([[0, 0, 10, 9], [0, 0, 10, 10]])
    assert greedy_match(np.array([0.5, 0.5]), dets, GT).tolist() == [
        0, UNMATCHED
    ]


def test_empty_inputs():
    assert greedy_match(np.zeros(0), np.zeros((0, 4)), GT).shape == (0, )
    assert greedy_match(np.array([0.3]), GT, np.zeros(
        (0, 4))).tolist() == [UNMATCHED]
