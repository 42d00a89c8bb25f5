"""tools/test.py --decision on the quick_checkpoint fixture (random
weights: every score is far below 0.25, so argmax and min-risk decide "no
defect" everywhere, while a thresholds file of zeros keeps every
detection: the global threshold 0.00 of the curves)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from csdet.evaluation.metrics.curves import read_curves_csv
from csdet.datasets import NEU_DET_CLASSES

CLASSES = NEU_DET_CLASSES
RULE_KEYS = ('total_cost', 'cost_per_image', 'num_missed',
             'num_false_alarms', 'num_misclassified')


def run_test_tool(repo_root, quick_checkpoint, work_dir, *extra,
                  config=None):
    settings = [f'{key}={value}'
                for key, value in quick_checkpoint['options'].items()]
    return subprocess.run(
        [sys.executable, 'tools/test.py', config or quick_checkpoint['config'],
         quick_checkpoint['checkpoint'], '--work-dir', str(work_dir), *extra,
         '--cfg-options', *settings],
        cwd=repo_root, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, OMP_NUM_THREADS='1'))


def thresholds_file(folder, name, values):
    path = folder / f'{name}.json'
    path.write_text(json.dumps({'thresholds': values}))
    return path


@pytest.fixture(scope='module')
def compared(repo_root, quick_checkpoint, tmp_path_factory):
    folder = tmp_path_factory.mktemp('decision')
    zeros = thresholds_file(folder, 'zeros', dict.fromkeys(CLASSES, 0.0))
    work = folder / 'work'
    result = run_test_tool(repo_root, quick_checkpoint, work, '--decision',
                           'argmax', 'min-risk', str(zeros))
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = next(path.parent
                   for path in work.glob('*/decision_metric.json'))
    metrics = json.loads((work / 'test_metrics.json').read_text())
    return result, metrics, run_dir


def test_three_rules_side_by_side(compared):
    result, metrics, _ = compared
    for key in RULE_KEYS:  # argmax at the metric's 0.25 is the plain metric
        assert metrics[f'decision/argmax/{key}'] == pytest.approx(
            metrics[f'decision/{key}'])
    # the random model's scores are tiny: min-risk rejects every detection
    assert metrics['decision/min-risk/num_false_alarms'] == 0
    assert metrics['decision/zeros/num_false_alarms'] > 0
    table = result.stdout[result.stdout.index('Decision rules'):]
    lines = table.splitlines()
    assert lines[1].split() == ['rule', 'total', 'cost', 'cost/image',
                                'missed', 'false', 'alarms', 'misclassified']
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:5]}
    assert list(rows) == ['argmax', 'min-risk', 'zeros']
    assert float(rows['zeros'][0]) == pytest.approx(
        metrics['decision/zeros/total_cost'], abs=1e-4)
    assert int(rows['zeros'][3]) == metrics['decision/zeros/num_false_alarms']


def test_rules_table_and_curves_in_the_run_dir(compared):
    _, metrics, run_dir = compared
    saved = json.loads((run_dir / 'decision_metric.json').read_text())
    assert [row['rule'] for row in saved['decision_rules']] == [
        'argmax', 'min-risk', 'zeros']
    curves = read_curves_csv(str(run_dir / 'threshold_curves.csv'))
    assert len(curves['threshold']) == 101
    at = {value: index for index, value in enumerate(curves['threshold'])}
    assert curves['decision_total_cost'][at[0.25]] == pytest.approx(
        metrics['decision/total_cost'])
    assert curves['macro_f1'][at[0.25]] == pytest.approx(metrics['f1/f1'])
    # thresholds of zeros = one global threshold of 0.00
    assert curves['decision_total_cost'][at[0.0]] == pytest.approx(
        metrics['decision/zeros/total_cost'])
    assert np.all(np.isfinite(curves['decision_total_cost']))
    for name in ('pr_curve.png', 'f1_curve.png', 'decision_cost_curve.png'):
        assert (run_dir / name).read_bytes()[:4] == b'\x89PNG', name


def test_config_without_decision_metric_is_refused(repo_root,
                                                   quick_checkpoint,
                                                   tmp_path):
    config = tmp_path / 'no_decision.py'
    config.write_text(f"_base_ = '{quick_checkpoint['config']}'\n"
                      "test_evaluator = [dict(type='F1Metric')]\n")
    result = run_test_tool(repo_root, quick_checkpoint, tmp_path / 'work',
                           '--decision', 'argmax', config=str(config))
    assert result.returncode == 2
    assert 'needs a DecisionCostMetric in test_evaluator' in result.stderr


def test_bad_thresholds_file_is_refused_before_running(repo_root,
                                                       quick_checkpoint,
                                                       tmp_path):
    wrong = thresholds_file(tmp_path, 'wrong', {'crack': 0.3})
    result = run_test_tool(repo_root, quick_checkpoint, tmp_path / 'work',
                           '--decision', 'argmax', str(wrong),
                           str(tmp_path / 'missing.json'))
    assert result.returncode == 2
    assert str(wrong) in result.stderr
    assert "unknown classes ['crack']" in result.stderr
    assert not (tmp_path / 'work' / 'test_metrics.json').exists()
