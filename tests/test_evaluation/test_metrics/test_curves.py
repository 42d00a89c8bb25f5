"""Threshold curves (csdet.evaluation.metrics.curves) and the files
DecisionCostMetric and F1Metric write with them."""
import numpy as np
import pytest
from metric_samples import COST_SPEC, example_samples, make_sample, run_metric

from csdet.evaluation.metrics import DecisionCostMetric, F1Metric
from csdet.evaluation.metrics import curves

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
CSV_HEADER = ['threshold', 'macro_precision', 'macro_recall', 'macro_f1',
              'decision_total_cost']


def random_samples(seed: int, num_images: int = 12) -> list:
    """Detections jittered around the ground truths, random labels and
    class probabilities, scores on the 0.01 grid (ties with the curve
    thresholds included), some ignored ground truths."""
    rng = np.random.default_rng(seed)
    samples = []
    for image in range(num_images):
        num_gts = int(rng.integers(0, 4))
        corners = rng.uniform(0, 60, (num_gts + 1, 2))
        boxes = np.hstack([corners,
                           corners + rng.uniform(10, 30, (num_gts + 1, 2))])
        gts, ignored = boxes[:num_gts], boxes[num_gts:]
        num_dets = int(rng.integers(0, 12))
        centres = boxes[rng.integers(0, num_gts + 1, num_dets)]
        dets = centres + rng.normal(0, 3, (num_dets, 4))
        probs = rng.dirichlet(np.ones(3), num_dets)
        with_ignored = image % 3 == 0
        samples.append(make_sample(
            det_bboxes=dets.tolist(),
            scores=rng.integers(0, 101, num_dets).astype(float) / 100,
            labels=probs.argmax(axis=1).tolist(),
            cls_probs=probs.reshape(-1, 3),
            gt_bboxes=gts.tolist(),
            gt_labels=rng.integers(0, 3, num_gts).tolist(),
            ignored_bboxes=ignored.tolist() if with_ignored else [],
            ignored_labels=[0] if with_ignored else [],
            img_id=image))
    return samples


@pytest.mark.parametrize('bayes_relabel', [False, True])
def test_cost_curve_equals_the_metric_at_every_grid_threshold(bayes_relabel):
    samples = random_samples(5)
    metric = DecisionCostMetric(**COST_SPEC, bayes_relabel=bayes_relabel,
                                save_plot=False, save_curves=False)
    run_metric(metric, samples)
    labels = [metric.decision_labels(record) for record in metric.results]
    costs = curves.decision_cost_curve(metric.results, labels,
                                       metric.extended_cost_matrix(),
                                       metric.iou_thr,
                                       curves.grid_thresholds())
    assert costs.shape == (101, )
    for index in range(0, 101, 3):
        threshold = float(curves.THRESHOLD_GRID[index])
        expected = run_metric(
            DecisionCostMetric(**COST_SPEC, score_thr=threshold,
                               bayes_relabel=bayes_relabel, save_plot=False,
                               save_curves=False), samples)['total_cost']
        assert costs[index] == pytest.approx(expected), threshold
    assert len(set(np.round(costs, 6))) > 5  # the cost does vary


def test_curve_files_agree_with_the_metrics_at_the_operating_point(
        tmp_path):
    samples = random_samples(8)
    decision = run_metric(
        DecisionCostMetric(**COST_SPEC, output_dir=str(tmp_path)), samples)
    f1 = run_metric(F1Metric(output_dir=str(tmp_path)), samples)
    table = curves.read_curves_csv(str(tmp_path / curves.CURVES_CSV))
    assert list(table) == CSV_HEADER
    np.testing.assert_allclose(table['threshold'], np.arange(101) / 100)
    row = int(np.flatnonzero(table['threshold'] == 0.25)[0])
    assert table['decision_total_cost'][row] == pytest.approx(
        decision['total_cost'])
    assert table['macro_f1'][row] == pytest.approx(f1['f1'])
    assert table['macro_precision'][row] == pytest.approx(f1['precision'])
    assert table['macro_recall'][row] == pytest.approx(f1['recall'])
    # the best F1 on the grid cannot beat the exact sweep's best
    assert np.nanmax(table['macro_f1']) <= f1['best_f1'] + 1e-12
    for name in (curves.PR_CURVE_PNG, curves.F1_CURVE_PNG,
                 curves.COST_CURVE_PNG):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000, name
    assert not list(tmp_path.glob('.*tmp*'))


def test_hand_example_rows():
    # metric_samples at 0.0 and 0.25 keep everything: cost 25, F1 1/6;
    # at 0.91 only D3 (0.95, false alarm c: 4) is kept and G0 (a, 4),
    # G1 (c, 8) and image 2's b (2) are missed: 18
    metric = DecisionCostMetric(**COST_SPEC, save_plot=False,
                                save_curves=False)
    run_metric(metric, example_samples())
    labels = [record['labels'] for record in metric.results]
    costs = curves.decision_cost_curve(metric.results, labels,
                                       metric.extended_cost_matrix(), 0.5,
                                       np.float32([0.0, 0.25, 0.91, 1.0]))
    np.testing.assert_allclose(costs, [25, 25, 18, 14])


def test_no_curve_files_without_save_curves(tmp_path):
    run_metric(DecisionCostMetric(**COST_SPEC, output_dir=str(tmp_path),
                                  save_curves=False), example_samples())
    run_metric(F1Metric(output_dir=str(tmp_path), save_curves=False),
               example_samples())
    written = {path.name for path in tmp_path.iterdir()}
    assert written == {'decision_metric.json', 'decision_confusion.json',
                       'decision_confusion.png', 'f1_metric.json'}


def test_csv_writer(tmp_path):
    path = tmp_path / 'out' / 'c.csv'
    curves.write_curves_csv(str(path), dict(threshold=np.array([0.0, 0.5]),
                                            value=np.array([1.5, np.nan])))
    assert path.read_text().splitlines() == ['threshold,value', '0.00,1.5',
                                             '0.50,nan']
    with pytest.raises(ValueError, match='differ in length'):
        curves.write_curves_csv(str(path), dict(a=np.zeros(2),
                                                b=np.zeros(3)))
    assert path.read_text().startswith('threshold,value')  # untouched
    assert [p.name for p in path.parent.iterdir()] == ['c.csv']


def test_best_on_grid_ties_go_to_the_highest_threshold():
    assert curves.best_on_grid(np.array([3., 1., 2., 1.]), True) == 3
    assert curves.best_on_grid(np.array([np.nan, 0.2, 0.7, 0.7]),
                               False) == 3
    assert curves.best_on_grid(np.array([np.nan, np.nan]), True) == -1
