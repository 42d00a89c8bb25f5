"""tools/tune_thresholds.py on the quick_checkpoint fixture.

The tuning split is a synthetic set's train.json (a stand-in validation
split, --cfg-options val_ann_file=...); its test.json is not JSON, so any
read of the test split would fail the run.
"""
import json
import os
import subprocess
import sys

import pytest

from csdet.testing.synthetic import make_synthetic_coco


def run_tool(repo_root, script, quick_checkpoint, data_root, *extra,
             options=()):
    settings = dict(quick_checkpoint['options'], data_root=f'{data_root}/')
    settings = [f'{key}={value}' for key, value in settings.items()]
    return subprocess.run(
        [sys.executable, script, quick_checkpoint['config'],
         quick_checkpoint['checkpoint'], *extra, '--cfg-options', *settings,
         *options],
        cwd=repo_root, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, OMP_NUM_THREADS='1'))


@pytest.fixture(scope='module')
def guarded_set(tmp_path_factory):
    paths = make_synthetic_coco(tmp_path_factory.mktemp('guarded'),
                                num_images=8, image_size=96, seed=3)
    paths['test'].write_text('not JSON: the test split must not be read')
    return paths


@pytest.fixture(scope='module')
def tuned(repo_root, quick_checkpoint, guarded_set, tmp_path_factory):
    folder = tmp_path_factory.mktemp('tuned')
    out = folder / 'rules' / 'tuned_cost.json'
    result = run_tool(repo_root, 'tools/tune_thresholds.py', quick_checkpoint,
                      guarded_set['root'], '--out', str(out), '--work-dir',
                      str(folder / 'work'),
                      options=['val_ann_file=annotations/train.json'])
    return result, out


def test_tunes_on_the_validation_split_only(tuned, guarded_set):
    result, out = tuned
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[
        -3000:]
    saved = json.loads(out.read_text())
    train = os.path.realpath(guarded_set['train'])
    assert saved['tuned_on']['ann_file'] == train
    assert saved['num_images'] == 6  # the 6 train images, not the 2 test
    assert saved['objective'] == 'decision_cost'
    assert saved['decision_cost']['tuned'] <= saved['decision_cost']['start']
    assert set(saved['thresholds']) == set(saved['classes'])
    assert f'Tuning on {train} (6 images)' in result.stdout
    assert 'decision cost' in result.stdout and 'macro F1' in result.stdout
    assert [p.name for p in out.parent.iterdir()] == ['tuned_cost.json']


def test_tools_test_prices_the_file_as_tuned(tuned, repo_root,
                                             quick_checkpoint, guarded_set,
                                             tmp_path):
    # tools/test.py on the tuning split: argmax at 0.25 is the start cost,
    # the tuned file is the tuned cost (same matrix, matching and IoU)
    _, out = tuned
    work = tmp_path / 'work'
    result = run_tool(repo_root, 'tools/test.py', quick_checkpoint,
                      guarded_set['root'], '--work-dir', str(work),
                      '--decision', 'argmax', str(out),
                      options=['test_ann_file=annotations/train.json'])
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((work / 'test_metrics.json').read_text())
    saved = json.loads(out.read_text())
    assert metrics['decision/argmax/total_cost'] == pytest.approx(
        saved['decision_cost']['start'])
    assert metrics['decision/tuned_cost/total_cost'] == pytest.approx(
        saved['decision_cost']['tuned'])


@pytest.mark.parametrize('options, setting', [
    ([], 'val_ann_file is None'),
    (['val_ann_file=annotations/test.json'], 'read the same file'),
])
def test_refuses_to_tune_on_the_test_split(repo_root, quick_checkpoint,
                                           guarded_set, tmp_path, options,
                                           setting):
    out = tmp_path / 't.json'
    result = run_tool(repo_root, 'tools/tune_thresholds.py', quick_checkpoint,
                      guarded_set['root'], '--out', str(out), '--work-dir',
                      str(tmp_path / 'work'), options=options)
    assert result.returncode == 2, result.stderr[-3000:]
    test_file = os.path.realpath(guarded_set['test'])
    assert setting in result.stderr
    assert f'val: {test_file}, test: {test_file}' in result.stderr
    assert '--val-per-class 25' in result.stderr
    assert 'val_ann_file=annotations/val.json' in result.stderr
    assert not out.exists()
