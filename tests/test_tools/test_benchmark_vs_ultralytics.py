"""The pure helpers of tools/analysis/benchmark_vs_ultralytics.py (timing
alternation, medians, the table, random targets, COCO -> YOLO labels); the
benchmark itself is a script, not a test."""
import json

import pytest
import torch

from tool_loader import load_tool


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis/benchmark_vs_ultralytics.py')


def test_alternate_flips_the_order_and_times_every_call(tool):
    log = []
    calls = {'a': lambda: log.append('a'), 'b': lambda: log.append('b')}
    times = tool.alternate(calls, repeats=3, warmup=1)
    # warm-up a b, then a b / b a / a b
    assert log == ['a', 'b', 'a', 'b', 'b', 'a', 'a', 'b']
    assert {name: len(values) for name, values in times.items()} == {
        'a': 3, 'b': 3}
    assert all(value >= 0 for values in times.values() for value in values)


def test_alternate_refuses_no_repeats(tool):
    with pytest.raises(ValueError, match='repeats=0'):
        tool.alternate({'a': lambda: None}, repeats=0, warmup=0)


def test_summarise_is_medians_in_ms_and_their_ratio(tool):
    what, ours, theirs, ratio = tool.summarise(
        'x', [0.010, 0.030, 0.020], [0.040, 0.050, 0.100])
    assert what == 'x'
    assert ours == pytest.approx(20.0)
    assert theirs == pytest.approx(50.0)
    assert ratio == pytest.approx(0.4)


def test_format_table_has_a_row_per_measurement(tool):
    table = tool.format_table([('train step', 363.94, 355.31, 1.0243),
                               ('b1', 66.2, 58.9, 1.1239)])
    lines = table.splitlines()
    assert lines[0].split() == ['what', 'csdet', 'ms', 'reference', 'ms',
                                'csdet/ref']
    assert lines[1].split()[-3:] == ['363.9', '355.3', '1.02']
    assert lines[2].split() == ['b1', '66.2', '58.9', '1.12']


def test_random_boxes_lie_inside_the_image(tool):
    rows = tool.random_boxes(3, 5, 192, 6, torch.Generator().manual_seed(0))
    assert rows.shape == (15, 6)
    assert rows[:, 0].tolist() == [i for i in range(3) for _ in range(5)]
    assert set(rows[:, 1].long().tolist()) <= set(range(6))
    centre, wh = rows[:, 2:4], rows[:, 4:6]
    assert (wh >= 8).all() and (wh <= 96).all()
    assert (centre - wh / 2 >= 0).all() and (centre + wh / 2 <= 192).all()


def test_write_yolo_labels_normalises_coco_boxes(tool, tmp_path):
    images = tmp_path / 'src'
    images.mkdir()
    for name in ('a.jpg', 'b.jpg'):
        (images / name).write_bytes(b'jpeg')
    coco = dict(
        images=[dict(id=1, file_name='a.jpg', width=200, height=100),
                dict(id=2, file_name='b.jpg', width=200, height=100)],
        categories=[dict(id=7, name='y'), dict(id=3, name='x')],
        annotations=[dict(id=1, image_id=1, category_id=7,
                          bbox=[10, 20, 40, 30])])
    ann = tmp_path / 'train.json'
    ann.write_text(json.dumps(coco))
    out = tool.write_yolo_labels(ann, images, tmp_path / 'yolo')
    assert sorted(p.name for p in out.iterdir()) == ['a.jpg', 'b.jpg']
    labels = tmp_path / 'yolo' / 'labels'
    # category 7 is the second id in sorted order -> class 1
    assert (labels / 'a.txt').read_text().split() == [
        '1', '0.150000', '0.350000', '0.200000', '0.300000']
    assert (labels / 'b.txt').read_text() == ''


def test_write_yolo_labels_names_a_missing_image(tool, tmp_path):
    coco = dict(images=[dict(id=1, file_name='gone.jpg', width=2, height=2)],
                categories=[dict(id=1, name='x')], annotations=[])
    ann = tmp_path / 'train.json'
    ann.write_text(json.dumps(coco))
    with pytest.raises(FileNotFoundError, match='gone.jpg'):
        tool.write_yolo_labels(ann, tmp_path, tmp_path / 'yolo')


def test_format_table_takes_other_column_names(tool):
    table = tool.format_table([('step', 101.0, 100.0, 1.01)],
                              columns=('CS ms', 'plain ms', 'CS/plain'))
    assert table.splitlines()[0].split() == ['what', 'CS', 'ms', 'plain',
                                             'ms', 'CS/plain']


def test_endless_restarts_the_loader_and_draw_batches_converts_each(tool):
    batches = tool.endless([1, 2, 3])
    assert [next(batches) for _ in range(7)] == [1, 2, 3, 1, 2, 3, 1]
    seen = []
    tool.draw_batches(tool.endless(['a', 'b']), seen.append, 3)
    assert seen == ['a', 'b', 'a']


def test_reference_input_is_float_in_zero_one(tool):
    images = torch.tensor([[[[0, 255], [51, 102]]]], dtype=torch.uint8)
    out = tool.ref_to_input((images, None, None, None))
    assert out.dtype == torch.float32
    assert out.flatten().tolist() == pytest.approx([0.0, 1.0, 0.2, 0.4])


def test_epochs_are_zero_or_at_least_two(tool, capsys):
    assert tool.parse_args(['--epochs', '3']).epochs == 3
    for bad in (['--epochs', '1'], ['--epochs-only']):
        with pytest.raises(SystemExit):
            tool.parse_args(bad)
    assert '--epochs' in capsys.readouterr().err


def test_skipped_reference_validation_returns_what_train_reads(tool):
    import types
    train = types.SimpleNamespace(validate=None)
    tool.skip_reference_validation(train)
    results, maps, map50s, _ = train.validate.run(dict(nc=6), batch_size=8)
    assert len(results) == 7 and maps.shape == map50s.shape == (6, )


def test_both_training_loops_run_offline_and_report_epoch_times(
        repo_root, synthetic_set, tmp_path):
    """The whole --epochs path: each tool trains 2 epochs of 2 iterations
    on a synthetic train split in its own spawned process, no network."""
    import os
    import subprocess
    import sys
    reference = repo_root / '.venv' / 'reference'
    if not (reference / 'yolov5').is_dir():
        pytest.skip(f'YOLOv5 reference not installed in {reference}')
    log = tmp_path / 'runs.log'
    command = [
        sys.executable, 'tools/analysis/benchmark_vs_ultralytics.py',
        '--epochs', '2', '--epochs-only', '--train-runs', '1',
        '--batch-size', '3', '--epoch-workers', '0', '--img-size', '96',
        '--log', str(log), '--cfg-options',
        f'data_root={synthetic_set["root"]}/', 'img_size=96']
    env = dict(os.environ, YOLOV5_CONFIG_DIR=str(tmp_path / 'settings'),
               OMP_NUM_THREADS='1')
    done = subprocess.run(command, cwd=repo_root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:] + log.read_text()[-3000:]
    runs = [line.split() for line in done.stdout.splitlines()
            if line.startswith('  run 0 ')]
    assert sorted(run[2] for run in runs) == ['csdet:', 'reference:']
    for run in runs:  # '  run 0 csdet: epochs 1.2 0.9 s'
        seconds = [float(value) for value in run[4:-1]]
        assert len(seconds) == 2 and all(value > 0 for value in seconds)
    row = next(line for line in done.stdout.splitlines()
               if line.startswith('training epoch, real loops'))
    assert '(batch 3, 0 workers)' in row
    assert 'Epoch(train) [2][2/2]' in log.read_text()  # csdet's own log
