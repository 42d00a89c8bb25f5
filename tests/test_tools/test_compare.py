"""tools/compare.py with stand-in train/test tools.

FAKE_TOOL answers in milliseconds with the files the real tools leave
behind (epoch_20.pth + last_checkpoint + <stamp>/vis_data/scalars.json;
test_metrics.json with the real metric keys), so the table can be checked
number by number. The configs are the repo's own (only their model is built,
for the parameter count); speed is measured only where a test needs it.
"""
import csv
import json
import os
import sys
from pathlib import Path

import pytest
import torch
from mmdet.registry import MODELS

from csdet.utils.config import load_resolved
from csdet.testing.synthetic import make_synthetic_coco

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tools'))

import compare  # noqa: E402

PLAIN = str(REPO / 'configs' / 'yolov5_neu_quick.py')
CS = str(REPO / 'configs' / 'cs_yolov5_neu_quick.py')
ITER_TIME = 0.5  # seconds per logged training iteration (batch 16)

FAKE_TOOL = '''
import json, os, sys, time
from pathlib import Path

mode, config, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(os.environ['FAKE_CALLS'], 'a') as calls:
    calls.write(json.dumps([mode, Path(config).stem, rest]) + '\\n')
fail_mode, _, fail_text = os.environ.get('FAKE_FAIL', '').partition(':')
if mode == fail_mode and fail_text in config:
    sys.exit('fake failure of ' + config)
work_dir = Path(rest[rest.index('--work-dir') + 1])
work_dir.mkdir(parents=True, exist_ok=True)
cs = Path(config).name.startswith('cs_')
if mode == 'train':
    log = work_dir / str(time.time_ns()) / 'vis_data'
    log.mkdir(parents=True)
    records = [dict(lr=0.01, loss=1.0, time=t, step=i)
               for i, t in enumerate((ITER_TIME, 9.9, ITER_TIME), 1)]
    records.append({'coco/bbox_mAP': 0.1, 'time': 0.01, 'step': 3})  # val
    (log / 'scalars.json').write_text(
        '\\n'.join(json.dumps(r) for r in records) + '\\n')
    if os.environ.get('FAKE_BATCH'):  # as mmengine dumps --cfg-options
        batch = os.environ['FAKE_BATCH']
        (log / 'config.py').write_text(
            f'train_dataloader = dict(batch_size={batch})')
    # the quick configs' schedule is 20 epochs; FAKE_EPOCHS < 20 leaves an
    # unfinished training behind
    last = work_dir / f"epoch_{os.environ.get('FAKE_EPOCHS', '20')}.pth"
    last.write_text('fake')
    (work_dir / 'last_checkpoint').write_text(str(last))
else:
    assert Path(rest[0]).is_file(), rest[0]
    metrics = {'coco/bbox_mAP_50': 0.6 if cs else 0.5, 'coco/bbox_mAP': 0.2,
               'f1/f1': 0.45, 'f1/best_f1': 0.5, 'cost_det/cost': 0.004,
               'cost_det/cost_x1e3': 4.0 if cs else 18.0,
               'decision/cost_per_image': 1.25 if cs else 1.75}
    (work_dir / 'test_metrics.json').write_text(json.dumps(metrics))
'''.replace('ITER_TIME', repr(ITER_TIME))


@pytest.fixture()
def fake(tmp_path, monkeypatch):
    """Command-line pieces and the call log of the fake tools."""
    script = tmp_path / 'fake_tool.py'
    script.write_text(FAKE_TOOL)
    calls = tmp_path / 'calls.jsonl'
    monkeypatch.setenv('FAKE_CALLS', str(calls))
    monkeypatch.delenv('FAKE_FAIL', raising=False)
    monkeypatch.delenv('FAKE_EPOCHS', raising=False)
    monkeypatch.delenv('FAKE_BATCH', raising=False)
    work_dir = tmp_path / 'compare'
    args = ['--work-dir', str(work_dir), '--no-bench',
            '--train-cmd', f'{sys.executable} {script} train',
            '--test-cmd', f'{sys.executable} {script} test']

    def read_calls():
        if not calls.is_file():
            return []
        return [json.loads(line) for line in calls.read_text().splitlines()]

    return dict(args=args, work_dir=work_dir, calls=read_calls)


def read_rows(work_dir: Path) -> list:
    with open(work_dir / 'table.csv') as file:
        return list(csv.DictReader(file))


def test_table_values_come_from_metrics_and_logs(fake, capsys):
    assert compare.main([PLAIN, CS, *fake['args']]) == 0
    rows = read_rows(fake['work_dir'])
    assert [row['config'] for row in rows] == [PLAIN, CS]
    assert list(rows[0]) == compare.COLUMNS
    plain, cs = rows
    assert (plain['detector'], plain['CS'], cs['CS']) == ('YOLOv5', 'False',
                                                          'True')
    assert (cs['input px'], cs['epochs']) == ('192', '20')  # quick config
    assert cs['batch'] == '16'  # no dumped config: the config's own
    assert float(plain['mAP50']) == 0.5 and float(cs['mAP50']) == 0.6
    assert float(cs['mAP']) == 0.2 and float(cs['F1']) == 0.45
    assert float(plain['cost x1e3']) == 18.0 and float(cs['cost x1e3']) == 4
    assert float(cs['decision cost/img']) == 1.25
    # median over the train records only (the val record is ignored)
    assert float(cs['train img/s']) == pytest.approx(16 / ITER_TIME)
    assert cs['train img/s source'] == 'log'
    assert float(cs['cost vs plain']) == pytest.approx(4 / 18 - 1)
    assert plain['cost vs plain'] == ''
    assert cs['infer ms/img'] == '' and cs['status'] == 'ok'

    markdown = (fake['work_dir'] / 'table.md').read_text()
    header = markdown.splitlines()[0]
    assert 'CPUs' in header and 'torch threads' in header
    assert 'tools/compare.py' in header and 'cs_yolov5_neu_quick.py' in header
    assert '| YOLOv5 | True | 1.' in markdown
    assert '| 4.00 | 1.250 | -78% |' in markdown
    assert (fake['work_dir'] / 'table.png').stat().st_size > 0
    assert 'train img/s source' in markdown
    assert '| ' + ' | '.join(compare.COLUMNS) + ' |' in capsys.readouterr().out
    for stem in ('yolov5_neu_quick', 'cs_yolov5_neu_quick'):
        assert (fake['work_dir'] / stem / 'compare_train.log').is_file()
        assert (fake['work_dir'] / stem / 'compare_test.log').is_file()


def test_rerun_skips_finished_trains_and_tests(fake):
    assert compare.main([PLAIN, CS, *fake['args']]) == 0
    assert [call[0] for call in fake['calls']()] == ['train', 'test'] * 2
    assert compare.main([PLAIN, CS, *fake['args']]) == 0
    assert len(fake['calls']()) == 4  # nothing ran again

    # a newer checkpoint makes the metrics stale: test again, do not train
    checkpoint = fake['work_dir'] / 'cs_yolov5_neu_quick' / 'epoch_20.pth'
    later = (fake['work_dir'] / 'cs_yolov5_neu_quick' /
             'test_metrics.json').stat().st_mtime + 10
    os.utime(checkpoint, (later, later))
    assert compare.main([PLAIN, CS, *fake['args']]) == 0
    assert fake['calls']()[4:] == [[
        'test', 'cs_yolov5_neu_quick',
        [str(checkpoint), '--work-dir', str(checkpoint.parent)]]]


@pytest.mark.parametrize('stage', ['train', 'test'])
def test_a_failing_config_is_isolated_and_reported(fake, monkeypatch, capsys,
                                                   stage):
    monkeypatch.setenv('FAKE_FAIL', f'{stage}:cs_yolov5')
    assert compare.main([CS, PLAIN, *fake['args']]) == 1
    cs, plain = read_rows(fake['work_dir'])
    log = fake['work_dir'] / 'cs_yolov5_neu_quick' / f'compare_{stage}.log'
    assert cs['status'].startswith(f'{stage} failed') and str(log) in cs[
        'status']
    assert 'fake failure' in log.read_text()
    assert cs['mAP50'] == '' and cs['CS'] == 'True'  # model facts still there
    assert plain['status'] == 'ok' and float(plain['mAP50']) == 0.5
    assert f'FAILED {CS}: {stage} failed' in capsys.readouterr().err
    assert (fake['work_dir'] / 'table.md').is_file()


def test_input_errors_name_the_path(fake, tmp_path, capsys):
    missing = str(tmp_path / 'nope.py')
    assert compare.main([PLAIN, missing, *fake['args']]) == 2
    assert f'config file not found: {missing}' in capsys.readouterr().err
    gone = str(tmp_path / 'gone')
    assert compare.main([PLAIN, '--runs', f'yolov5_neu_quick={gone}',
                         *fake['args']]) == 2
    assert f'{gone} does not exist' in capsys.readouterr().err
    assert compare.main([PLAIN, '--runs', f'other={tmp_path}',
                         *fake['args']]) == 2
    assert 'CONFIG one of the configs' in capsys.readouterr().err
    assert fake['calls']() == []


def test_runs_checkpoint_is_tested_not_trained_and_benchmarked(fake,
                                                               tmp_path):
    # one thread: two on the busy 2-core machine made the first training
    # step take ~20 s (measured)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        check_runs_checkpoint(fake, tmp_path)
    finally:
        torch.set_num_threads(threads)


def check_runs_checkpoint(fake, tmp_path):
    # a real checkpoint: the row's speed is timed with its weights
    checkpoint = tmp_path / 'elsewhere' / 'best.pth'
    checkpoint.parent.mkdir()
    model = MODELS.build(load_resolved(PLAIN).model)
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    args = [arg for arg in fake['args'] if arg != '--no-bench']
    # trained weights are timed on the test images: a synthetic test set
    data = make_synthetic_coco(tmp_path / 'data', num_images=4,
                               image_size=64)
    small = ['--cfg-options', 'train_dataloader.batch_size=2',
             'img_size=64', f"data_root={data['root']}/",
             f"test_ann_file={data['test']}"]
    assert compare.main([PLAIN, '--runs', f'{PLAIN}={checkpoint}',
                         '--bench-iters', '1', *small, *args]) == 0
    assert [call[:2] for call in fake['calls']()] == [['test',
                                                       'yolov5_neu_quick']]
    assert fake['calls']()[0][2][0] == str(checkpoint)
    row, = read_rows(fake['work_dir'])
    assert row['train img/s source'] == 'bench'  # no training log there
    assert float(row['train img/s']) > 0 and float(row['infer ms/img']) > 0


def test_skip_train_without_checkpoint_fails_that_row(fake):
    assert compare.main([PLAIN, '--skip-train', *fake['args']]) == 1
    row, = read_rows(fake['work_dir'])
    assert 'no checkpoint' in row['status'] and fake['calls']() == []


@pytest.mark.parametrize('name, detector, cost_sensitive', [
    ('yolov5_neu_quick', 'YOLOv5', False),
    ('cs_yolov5_neu_quick', 'YOLOv5', True),
    ('ssd300_neu', 'SSD300', False),
    ('cs_ssd300_neu', 'SSD300', True),
    ('faster-rcnn_r50_fpn_neu', 'Faster R-CNN', False),
    ('cs_faster-rcnn_r50_fpn_neu', 'Faster R-CNN', True),
])
def test_detector_and_cost_sensitivity_of_repo_configs(name, detector,
                                                       cost_sensitive):
    cfg = load_resolved(str(REPO / 'configs' / f'{name}.py'))
    assert compare.detector_name(cfg) == detector
    assert compare.is_cost_sensitive(cfg.model) is cost_sensitive


def test_params_equal_a_direct_count(fake):
    assert compare.main([CS, *fake['args']]) == 0
    row, = read_rows(fake['work_dir'])
    model = MODELS.build(load_resolved(CS).model)
    direct = sum(parameter.numel() for parameter in model.parameters())
    assert float(row['params (M)']) * 1e6 == pytest.approx(direct, abs=0.5)


def test_unfinished_training_is_resumed(fake, monkeypatch):
    monkeypatch.setenv('FAKE_EPOCHS', '3')  # stopped after 3 of 20 epochs
    assert compare.main([PLAIN, *fake['args']]) == 0
    monkeypatch.setenv('FAKE_EPOCHS', '20')
    assert compare.main([PLAIN, *fake['args']]) == 0
    calls = fake['calls']()
    assert [call[0] for call in calls] == ['train', 'test', 'train', 'test']
    assert '--resume' not in calls[0][2] and '--resume' in calls[2][2]
    assert calls[3][2][0].endswith('epoch_20.pth')
    assert compare.main([PLAIN, *fake['args']]) == 0
    assert len(fake['calls']()) == 4  # finished: nothing ran again


def test_logged_speed_uses_the_batch_size_the_run_logged(fake, monkeypatch):
    # e.g. a run trained with --cfg-options train_dataloader.batch_size=4
    monkeypatch.setenv('FAKE_BATCH', '4')
    assert compare.main([PLAIN, *fake['args']]) == 0
    row, = read_rows(fake['work_dir'])
    assert row['batch'] == '4'
    assert float(row['train img/s']) == pytest.approx(4 / ITER_TIME)


def row(config, cs, cost, epochs=20, map50=0.5):
    return {'config': config, 'detector': 'YOLOv5', 'CS': cs,
            'params (M)': 1.77, 'input px': 192, 'epochs': epochs,
            'batch': '16',
            'mAP50': map50, 'cost x1e3': cost}


def test_cost_change_pairs_only_rows_that_differ_in_the_loss():
    rows = [row('a', False, 20.0), row('b', True, 5.0),
            row('c', True, 4.0, epochs=90),  # no plain run at 90 epochs
            row('d', True, None)]  # its test failed
    compare.add_cost_change(rows)
    assert rows[1]['cost vs plain'] == pytest.approx(-0.75)
    assert [r.get('cost vs plain') for r in (rows[0], rows[2], rows[3])] == [
        None] * 3
    assert compare.shown('cost vs plain', -0.75) == '-75%'


def test_plot_needs_a_tested_row(tmp_path):
    assert compare.plot_tradeoff([row('a', False, None)],
                                 tmp_path / 'none.png') is None
    assert not (tmp_path / 'none.png').exists()
    path = compare.plot_tradeoff([row('a', False, 20.0), row('b', True, 5.0)],
                                 tmp_path / 'two.png')
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_failure_report_quotes_the_log_tail(fake, monkeypatch, capsys):
    monkeypatch.setenv('FAKE_FAIL', 'train:cs_yolov5')
    assert compare.main([CS, *fake['args']]) == 1
    row, = read_rows(fake['work_dir'])
    log = fake['work_dir'] / 'cs_yolov5_neu_quick' / 'compare_train.log'
    assert row['status'] == ('train failed: training exited with code 1, '
                             f'log: {log}')
    err = capsys.readouterr().err
    assert f"FAILED {CS}: {row['status']}\n" in err
    assert f'  | fake failure of {CS}\n  | === exit code 1 after ' in err
