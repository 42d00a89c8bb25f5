"""csdet.utils.jobs with stand-in tools (scripts run in their folder, the
commands' cwd) and tiny configs."""
import json
import sys
from pathlib import Path

import pytest

from csdet.utils.jobs import (JobFailed, ToolCommands, ToolRun,
                              checkpoint_is_final, exit_reason, log_tail,
                              parse_cfg_options, trained_checkpoint,
                              training_state)
from csdet.utils.runner_setup import UserInputError

# argv after the prefix: CONFIG --work-dir D ... (as the real tools get it)
FAKE_TRAIN = '''
import os, sys
from pathlib import Path
work_dir = Path(sys.argv[sys.argv.index('--work-dir') + 1])
work_dir.mkdir(parents=True, exist_ok=True)
print('training', ' '.join(sys.argv[1:]))
if os.environ.get('FAKE_EPOCH'):
    last = work_dir / ('epoch_' + os.environ['FAKE_EPOCH'] + '.pth')
    last.write_text('fake')
    (work_dir / 'last_checkpoint').write_text(str(last))
sys.exit(int(os.environ.get('FAKE_EXIT', '0')))
'''
FAKE_TEST = '''
import os, sys
from pathlib import Path
work_dir = Path(sys.argv[sys.argv.index('--work-dir') + 1])
print('testing', sys.argv[2])
if os.environ.get('FAKE_METRICS'):
    (work_dir / 'test_metrics.json').write_text(os.environ['FAKE_METRICS'])
sys.exit(int(os.environ.get('FAKE_EXIT', '0')))
'''


@pytest.fixture()
def commands(tmp_path):
    (tmp_path / 'train.py').write_text(FAKE_TRAIN)
    (tmp_path / 'test.py').write_text(FAKE_TEST)
    return ToolCommands([sys.executable, 'train.py'],
                        [sys.executable, 'test.py'], cwd=tmp_path)


@pytest.fixture()
def config(tmp_path):
    path = tmp_path / 'tiny.py'
    path.write_text("classes = ('a', 'b')\ntrain_cfg = dict(max_epochs=3)\n")
    return str(path)


def test_command_lines():
    commands = ToolCommands(['T'], ['E'])
    assert commands.train_command('c.py', Path('w')) == [
        'T', 'c.py', '--work-dir', 'w']
    assert commands.train_command('c.py', 'w', ['a=1', 'b=[x,y]'],
                                  resume=True) == [
        'T', 'c.py', '--work-dir', 'w', '--resume', '--cfg-options', 'a=1',
        'b=[x,y]']
    assert commands.test_command('c.py', Path('w/epoch_3.pth'), 'out',
                                 ['a=1']) == [
        'E', 'c.py', 'w/epoch_3.pth', '--work-dir', 'out', '--cfg-options',
        'a=1']
    defaults = ToolCommands.from_strings(Path('/repo/tools'))
    assert defaults.train == [sys.executable, '/repo/tools/train.py']
    assert defaults.test == [sys.executable, '/repo/tools/test.py']
    assert defaults.cwd is None
    given = ToolCommands.from_strings(Path('/repo/tools'), "py 'my train'",
                                      None, cwd=Path('/x'))
    assert given.train == ['py', 'my train'] and given.cwd == Path('/x')
    assert given.test == [sys.executable, '/repo/tools/test.py']


def test_run_appends_output_and_exit_code_to_the_log(commands, tmp_path,
                                                      monkeypatch):
    log = tmp_path / 'logs' / 'train.log'
    work = tmp_path / 'work'
    first = commands.run_train('c.py', work, ['k=1'], log)
    assert (first.returncode, first.log_path) == (0, log) and first.seconds > 0
    monkeypatch.setenv('FAKE_EXIT', '3')
    second = commands.run_train('c.py', work, [], log, resume=True,
                                env={'FAKE_EXIT': '4'})  # env replaces all
    assert second.returncode == 4
    lines = log.read_text().splitlines()
    assert lines[1].startswith('=== ') and lines[1].endswith(
        f'--work-dir {work} --cfg-options k=1')
    assert lines[2] == f'training c.py --work-dir {work} --cfg-options k=1'
    assert lines[3].startswith('=== exit code 0 after ')
    assert lines[6] == f'training c.py --work-dir {work} --resume'
    assert lines[7].startswith('=== exit code 4 after ')
    assert log_tail(log, 2) == '\n'.join(lines[6:8])
    assert log_tail(tmp_path / 'missing.log') == ''


def test_exit_reasons():
    assert exit_reason(2) == 'exited with code 2'
    assert exit_reason(-9) == 'was killed by signal 9'
    ToolRun(0, 1.0, Path('x.log')).check('training')  # no error
    with pytest.raises(JobFailed, match='^training was killed by signal 9$'
                       ) as caught:
        ToolRun(-9, 1.0, Path('x.log')).check('training')
    assert caught.value.log_path == Path('x.log')
    assert JobFailed('no tool ran').log_tail() == ''


def test_trained_checkpoint_needs_one_written(commands, tmp_path,
                                              monkeypatch):
    log = tmp_path / 'train.log'
    work = tmp_path / 'work'
    with pytest.raises(JobFailed, match='wrote no checkpoint in') as caught:
        trained_checkpoint(commands.run_train('c.py', work, [], log), work)
    assert caught.value.log_path == log
    assert 'training c.py' in caught.value.log_tail()
    monkeypatch.setenv('FAKE_EPOCH', '3')
    monkeypatch.setenv('FAKE_EXIT', '1')
    with pytest.raises(JobFailed, match='^training exited with code 1$'):
        trained_checkpoint(commands.run_train('c.py', work, [], log), work)
    monkeypatch.setenv('FAKE_EXIT', '0')
    assert trained_checkpoint(commands.run_train('c.py', work, [], log),
                              work) == work / 'epoch_3.pth'


def test_run_test_reads_metrics_and_never_keeps_stale_ones(
        commands, tmp_path, monkeypatch):
    out = tmp_path / 'out'
    out.mkdir()
    log = tmp_path / 'test.log'
    monkeypatch.setenv('FAKE_METRICS', json.dumps({'coco/bbox_mAP': 0.25}))
    metrics, tool_run = commands.run_test('c.py', 'w/epoch_1.pth', out, [],
                                          log)
    assert metrics == {'coco/bbox_mAP': 0.25} and tool_run.returncode == 0
    assert 'testing w/epoch_1.pth' in log.read_text()
    monkeypatch.setenv('FAKE_EXIT', '2')
    with pytest.raises(JobFailed, match='^evaluation x exited with code 2$'):
        commands.run_test('c.py', 'w', out, [], log, 'evaluation x')
    monkeypatch.setenv('FAKE_EXIT', '0')
    monkeypatch.delenv('FAKE_METRICS')
    (out / 'test_metrics.json').write_text('{"stale": 1}')
    with pytest.raises(JobFailed, match='missing or not JSON'):
        commands.run_test('c.py', 'w', out, [], log)
    assert not (out / 'test_metrics.json').exists()
    monkeypatch.setenv('FAKE_METRICS', '{not json')
    with pytest.raises(JobFailed, match='missing or not JSON'):
        commands.run_test('c.py', 'w', out, [], log)


def test_training_state_follows_the_schedule(config, tmp_path):
    work = tmp_path / 'work'
    # no checkpoint: fresh, the config is not even read
    state = training_state(work, str(tmp_path / 'absent.py'))
    assert (state.checkpoint, state.finished, state.resume) == (None, False,
                                                                 False)
    work.mkdir()
    (work / 'epoch_2.pth').write_text('fake')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_2.pth'))
    state = training_state(work, config)
    assert (state.checkpoint, state.finished, state.resume) == (
        work / 'epoch_2.pth', False, True)
    # --cfg-options count, as the tools apply them
    state = training_state(work, config, ['train_cfg.max_epochs=2'])
    assert state.finished and not state.resume
    assert checkpoint_is_final(work / 'epoch_3.pth', config)
    assert checkpoint_is_final(work / 'best_coco_bbox_mAP_epoch_1.pth',
                               str(tmp_path / 'absent.py'))
    iters = ['train_cfg.max_iters=100']  # iter_N names read max_iters
    assert not checkpoint_is_final(work / 'iter_50.pth', config, iters)
    assert checkpoint_is_final(work / 'iter_100.pth', config, iters)
    with pytest.raises(UserInputError, match='config file not found'):
        training_state(work, str(tmp_path / 'absent.py'))


def test_parse_cfg_options_as_the_tools_do():
    assert parse_cfg_options([]) == {}
    assert parse_cfg_options(['a.b=1', 'c=[x,y]', 'd=None', 'e=0.5']) == {
        'a.b': 1, 'c': ['x', 'y'], 'd': None, 'e': 0.5}
    with pytest.raises(UserInputError, match='--cfg-options abc: expected'):
        parse_cfg_options(['a=1', 'abc'])
