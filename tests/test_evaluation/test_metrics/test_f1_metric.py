"""F1Metric (macro F1, class-aware IoU-0.5 matching) by hand.

The example of metric_samples.py, class-aware matching of all detections:
    class a: D0 (0.90) TP on G0; D1 (0.80) duplicate FP; image-3 det (0.50)
             FP; 1 gt.
    class b: D2 (0.60) FP (no class-b gt in image 1); 1 gt (image 2).
    class c: D3 (0.95) FP; 1 gt (G1).
At score_thr 0.25 (all kept):
    a: P = 1/3, R = 1, F1 = 2*(1/3)/(4/3) = 0.5;  b, c: P = R = F1 = 0
    macro F1 = 0.5/3 = 1/6, macro P = 1/9, macro R = 1/3.
Sweep (score >= t):
    t = 0.95: only D3 -> all 0
    t = 0.90: D3, D0 -> a: P = R = F1 = 1 -> macro F1 1/3 (the best)
    t = 0.80: + D1 -> a: F1 = 2/3 -> 2/9; t = 0.60: 2/9; t = 0.50: 1/6
so best_f1 = 1/3 at 0.9 with macro P = macro R = 1/3.
"""
import json
import math

import numpy as np
import pytest
from metric_samples import COST_SPEC, example_samples, make_sample, run_metric

from csdet.evaluation.metrics import F1Metric
from csdet.evaluation.metrics.f1_metric import macro_f1_curve


def test_macro_f1_by_hand(tmp_path):
    metric = F1Metric(classwise=True, output_dir=str(tmp_path))
    metrics = run_metric(metric, example_samples(with_probs=False))
    assert metrics['f1'] == pytest.approx(1 / 6)
    assert metrics['precision'] == pytest.approx(1 / 9)
    assert metrics['recall'] == pytest.approx(1 / 3)
    assert metrics['f1_a'] == pytest.approx(0.5)
    assert metrics['f1_b'] == 0 and metrics['f1_c'] == 0
    assert metrics['best_f1'] == pytest.approx(1 / 3)
    assert metrics['best_score_thr'] == pytest.approx(0.9)
    assert metrics['best_precision'] == pytest.approx(1 / 3)
    assert metrics['best_recall'] == pytest.approx(1 / 3)

    saved = json.loads((tmp_path / 'f1_metric.json').read_text())
    assert saved['per_class_at_best_thr']['a'] == {
        'precision': 1.0, 'recall': 1.0, 'f1': 1.0}
    assert saved['num_gts_per_class'] == {'a': 1, 'b': 1, 'c': 1}


def test_fixed_threshold_is_inclusive():
    # at exactly 0.9, D0 and D3 are kept: macro F1 = 1/3
    metrics = run_metric(F1Metric(score_thr=0.9), example_samples())
    assert metrics['f1'] == pytest.approx(1 / 3)


def test_bayes_relabel_by_hand():
    # Bayes labels: D0 b, D1 b, D2 c, D3 c, image-3 det b.
    # a: no det, 1 gt -> 0.   b: D0, D1, image-3 det all FP, 1 gt -> 0.
    # c: D3 (0.95) FP, then D2 (0.60) TP on G1 (IoU 0.667): P = 1/2, R = 1,
    #    F1 = 2/3.   macro F1 = 2/9, macro P = 1/6, macro R = 1/3.
    metrics = run_metric(
        F1Metric(**COST_SPEC, bayes_relabel=True), example_samples())
    assert metrics['f1'] == pytest.approx(2 / 9)
    assert metrics['precision'] == pytest.approx(1 / 6)
    assert metrics['recall'] == pytest.approx(1 / 3)
    with pytest.raises(KeyError, match='cls_probs.*bayes_relabel'):
        run_metric(
            F1Metric(**COST_SPEC, bayes_relabel=True),
            example_samples(with_probs=False))


def test_macro_average_skips_classes_without_ground_truth():
    # one perfect class-a detection and a class-c false alarm; class c has
    # no ground truth, so it is left out of the average: macro F1 = 1
    sample = make_sample(
        det_bboxes=[[0, 0, 10, 10], [50, 50, 60, 60]], scores=[0.9, 0.8],
        labels=[0, 2], gt_bboxes=[[0, 0, 10, 10]], gt_labels=[0])
    metrics = run_metric(F1Metric(), [sample])
    assert metrics['f1'] == pytest.approx(1.0)
    assert metrics['precision'] == pytest.approx(1.0)


def test_best_threshold_can_drop_every_detection_tie_goes_high():
    # only a false alarm: every threshold gives macro F1 0; the highest
    # candidate (above every score, no detections) is reported
    sample = make_sample(
        det_bboxes=[[50, 50, 60, 60]], scores=[0.7], labels=[0],
        gt_bboxes=[[0, 0, 10, 10]], gt_labels=[0])
    metrics = run_metric(F1Metric(), [sample])
    assert metrics['best_f1'] == 0.0
    assert metrics['best_score_thr'] > 0.7


def test_ignored_ground_truth_of_the_same_class_drops_the_detection():
    sample = make_sample(
        det_bboxes=[[0, 0, 10, 10], [50, 50, 60, 60]], scores=[0.9, 0.8],
        labels=[0, 0], gt_bboxes=[[0, 0, 10, 10]], gt_labels=[0],
        ignored_bboxes=[[50, 50, 60, 60]], ignored_labels=[0])
    assert run_metric(F1Metric(), [sample])['f1'] == pytest.approx(1.0)
    # an ignored box of another class does not excuse the false alarm
    sample['ignored_instances']['labels'][:] = 1
    # class a: P = 1/2, R = 1 -> F1 = 2/3
    assert run_metric(F1Metric(), [sample])['f1'] == pytest.approx(2 / 3)


def test_no_ground_truth_anywhere_gives_nan():
    metrics = run_metric(F1Metric(), [
        make_sample(det_bboxes=[[0, 0, 5, 5]], scores=[0.5], labels=[1]),
        make_sample()
    ])
    assert math.isnan(metrics['f1']) and math.isnan(metrics['best_f1'])


def test_curve_matches_brute_force_on_random_data():
    rng = np.random.default_rng(3)
    scores = rng.random(40).round(2)  # ties included
    labels = rng.integers(0, 3, 40)
    is_tp = rng.integers(0, 2, 40)
    gt_counts = np.array([12, 0, 9])
    thresholds = np.array([0.0, 0.3, 0.5, 0.77, 1.0])
    curve = macro_f1_curve(scores, labels, is_tp, gt_counts, thresholds,
                           per_class=True)
    for column, threshold in enumerate(thresholds):
        f1_values = []
        for class_index in (0, 2):
            kept = (labels == class_index) & (scores >= threshold)
            true_pos = is_tp[kept].sum()
            precision = true_pos / kept.sum() if kept.sum() else 0.0
            recall = true_pos / gt_counts[class_index]
            f1_values.append(2 * precision * recall / (precision + recall)
                             if precision + recall else 0.0)
            assert curve['precision'][class_index, column] == \
                pytest.approx(precision)
            assert curve['f1'][class_index, column] == \
                pytest.approx(f1_values[-1])
        assert curve['macro_f1'][column] == pytest.approx(np.mean(f1_values))
        # class 1 has no ground truth: recall and F1 0, left out of the mean
        assert curve['f1'][1, column] == 0.0


def random_samples(seed: int, drop_below: float = 0.0) -> list:
    """Random images: detections jittered around the gts, random labels."""
    rng = np.random.default_rng(seed)
    samples = []
    for image in range(15):
        num_gts = int(rng.integers(0, 4))
        corners = rng.uniform(0, 60, (num_gts, 2))
        gts = np.hstack([corners, corners + rng.uniform(10, 30, (num_gts, 2))])
        num_dets = 20 if num_gts else 3
        centres = (gts[rng.integers(0, num_gts, num_dets)]
                   if num_gts else rng.uniform(0, 60, (num_dets, 4)))
        dets = centres + rng.normal(0, 3, (num_dets, 4))
        scores = rng.random(num_dets).round(3)
        keep = scores >= drop_below
        samples.append(make_sample(
            det_bboxes=dets[keep].tolist(), scores=scores[keep].tolist(),
            labels=rng.integers(0, 3, num_dets)[keep].tolist(),
            gt_bboxes=gts.tolist(),
            gt_labels=rng.integers(0, 3, num_gts).tolist(), img_id=image))
    return samples


@pytest.mark.parametrize('threshold', [0.2, 0.5, 0.81])
def test_threshold_equals_evaluating_only_the_detections_above_it(
        threshold):
    # the one-pass sweep must agree with matching only the kept detections
    swept = run_metric(F1Metric(score_thr=threshold), random_samples(7))
    filtered = run_metric(F1Metric(score_thr=0.0),
                          random_samples(7, drop_below=threshold))
    assert swept['f1'] == pytest.approx(filtered['f1'])
    assert swept['recall'] == pytest.approx(filtered['recall'])
    assert 0 < swept['f1'] < 1  # a non-trivial case


def test_best_threshold_reproduces_best_f1():
    best = run_metric(F1Metric(), random_samples(11))
    again = run_metric(
        F1Metric(score_thr=best['best_score_thr']), random_samples(11))
    assert again['f1'] == pytest.approx(best['best_f1'])
    assert best['best_f1'] >= best['f1']
