"""Tests of projects/cs_yolov5 (the paper-experiment sweep tool).

The library's tools are replaced by tests/test_projects/
cs_yolov5_fake_tools.py (same command line, same output files, metric
values from fixed formulas), and the configs by small stand-ins with the
same structure (top-level classes and cost, class loss where each detector
keeps it, evaluator list), so most tests run in about a second.
"""
import json
import math
import os
import shlex
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT = REPO_ROOT / 'projects' / 'cs_yolov5'
FAKE_TOOLS = Path(__file__).resolve().parent / 'cs_yolov5_fake_tools.py'
sys.path.insert(0, str(PROJECT))

import sweep  # noqa: E402
from cs_sweep import experiments, report, runner, slurm  # noqa: E402
from csdet.datasets import NEU_DET_CLASSES

CLASSES = NEU_DET_CLASSES
PAPER_POSITIVES = ('patches', 'pitted_surface', 'inclusion', 'scratches')
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'

# r = cost_weight / loss_weight = 1 (the CS loss has loss_weight 0.5)
COMMON = f"""
classes = {CLASSES!r}
cost = dict(positive_classes={list(PAPER_POSITIVES)!r},
            coefficients=(200, 20, 2, 1), ratio=1.0)
train_dataloader = dict(batch_size=16, dataset=dict(type='X'))
test_dataloader = train_dataloader
train_cfg = dict(max_epochs=2)
test_evaluator = [
    dict(type='mmdet.CocoMetric'),
    dict(type='CostMetric'),
    dict(type='F1Metric'),
    dict(type='DecisionCostMetric'),
]
val_evaluator = test_evaluator
"""
# Where the stand-in configs put each detector's class loss (as the real
# configs do); the sweep itself does not know these places.
LOSS_KEYS = {
    'yolov5': 'model.bbox_head.loss_cls',
    'ssd': 'model.bbox_head.loss_cls',
    'faster_rcnn': 'model.roi_head.bbox_head.loss_cls',
}


def loss_config(loss_key: str, loss: str) -> str:
    """A config whose class loss sits at ``loss_key`` (model.x.loss_cls)."""
    return ("_base_ = './_common.py'\nmodel = " +
            _nest(loss_key.split('.')[1:], loss) + '\n')


def _nest(parts, leaf):
    if not parts:
        return leaf
    return f'dict({parts[0]}=' + _nest(parts[1:], leaf) + ')'


PLAIN_LOSS = "dict(type='mmdet.CrossEntropyLoss', loss_weight=0.5)"
CS_LOSS = "dict(type='CostSensitiveLoss', loss_weight=0.5)"


@pytest.fixture()
def config_dir(tmp_path):
    """Stand-in configs with the real names, plain + CS, paper + quick."""
    folder = tmp_path / 'configs'
    folder.mkdir()
    (folder / '_common.py').write_text(COMMON)
    for key, detector in experiments.DETECTORS.items():
        stem = detector.base_config[:-3]
        for suffix in ('', '_quick'):
            (folder / f'{stem}{suffix}.py').write_text(
                loss_config(LOSS_KEYS[key], PLAIN_LOSS))
            (folder / f'cs_{stem}{suffix}.py').write_text(
                loss_config(LOSS_KEYS[key], CS_LOSS))
    return folder


@pytest.fixture()
def fake_commands():
    return runner.ToolCommands(
        train=[sys.executable, str(FAKE_TOOLS), 'train'],
        test=[sys.executable, str(FAKE_TOOLS), 'test'],
        cwd=REPO_ROOT)


@pytest.fixture()
def calls(tmp_path, monkeypatch):
    """Path of the fake tools' call log (one JSON line per call)."""
    path = tmp_path / 'calls.jsonl'
    monkeypatch.setenv('FAKE_CALLS', str(path))
    for name in ('FAKE_FAIL', 'FAKE_KILL_FLAG'):
        monkeypatch.delenv(name, raising=False)

    def read():
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    return read


def make_plan(experiment, config_dir, **options):
    options.setdefault('profile', 'quick')
    return experiments.plan_experiment(
        experiment,
        experiments.PlanOptions(
            base_config=str(config_dir / 'yolov5_neu.py'), **options))


def test_eval_normalize_reaches_evaluations_only(config_dir):
    plan = make_plan('weight-ratio', config_dir, ratios=(0.5, ),
                     eval_normalize='max')
    for run in plan.runs:
        assert 'cost.normalize' not in run.train_options
        assert {e.options['cost.normalize'] for e in run.evaluations} == {
            'max'}


def fake_cost_x1e3(cost_sensitive, group):
    """The fake test tool's formula (see cs_yolov5_fake_tools.py)."""
    return (0.5 if cost_sensitive else 4.0) * (1 + 0.1 * 'abcd'.index(group))


# ---------------------------------------------------------------------------
# planning
def test_plan_risk_groups(config_dir):
    plan = make_plan('risk-groups', config_dir, profile='paper',
                     seeds=(0, 1))
    assert plan.classes == CLASSES
    assert plan.positive_classes == PAPER_POSITIVES
    plain = [r for r in plan.runs if not r.cost_sensitive]
    cs = [r for r in plan.runs if r.cost_sensitive]
    # plain YOLOv5 trained once per seed, CS once per group and seed
    assert [r.seed for r in plain] == [0, 1]
    assert len(cs) == 8
    assert [r.run_id for r in plan.runs] == list(range(10))
    for run in plan.runs:
        assert run.train_options['randomness.seed'] == run.seed
        assert run.train_options['train_cfg.max_epochs'] == 90
        assert run.train_options['train_dataloader.batch_size'] == 230
        assert run.config.endswith(('/yolov5_neu.py', '/cs_yolov5_neu.py'))
    # the plain model is evaluated under every group, with and without the
    # post-hoc Bayes relabelling; the training options carry no cost spec
    run = plain[0]
    assert not any(key.startswith('cost.') for key in run.train_options)
    assert [(e.setting.key, e.bayes_relabel) for e in run.evaluations] == [
        (g, b) for g in 'abcd' for b in (False, True)]
    # the cost spec is set once, in the top-level cost dict; the config's
    # cost.coefficients are cleared so they cannot mix with the group
    group_c_bayes = run.evaluations[5].options
    assert group_c_bayes == {
        'cost.positive_classes': list(PAPER_POSITIVES), 'cost.group': 'c',
        'cost.coefficients': None,
        # evaluated in the paper's units (--eval-normalize, default 'sum')
        'cost.normalize': 'sum',
        # bayes_relabel on csdet's metrics, not on CocoMetric (index 0)
        **{f'test_evaluator.{i}.bayes_relabel': True for i in (1, 2, 3)}}
    # CS runs: the group's spec, by cost.* keys only
    run = next(r for r in cs if r.name == 'yolov5-cs-gb-p1235-bs230-seed1')
    assert {k: v for k, v in run.train_options.items()
            if not k.startswith(('randomness', 'train_'))} == {
                'cost.positive_classes': list(PAPER_POSITIVES),
                'cost.group': 'b', 'cost.coefficients': None}
    # the config's own ratio (cost.ratio = 1) adds no option; recorded
    # with the loss's cost_weight = r * loss_weight = 0.5
    assert (run.cost_weight, run.weight_ratio) == (0.5, 1.0)
    assert [e.name for e in run.evaluations] == ['gb-p1235']
    assert run.evaluations[0].options['cost.group'] == 'b'


def test_plan_weight_ratios_are_exact(config_dir):
    plan = make_plan('weight-ratio', config_dir)
    assert [s.weight_ratio for s in plan.settings] == [
        0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]
    cs = [r for r in plan.runs if r.cost_sensitive]
    key = 'cost.ratio'
    # r is set as cost.ratio; the fixture config's own r = 1 sets nothing
    # and is named like the default run, so risk-groups' group a training
    # serves it
    assert [r.train_options.get(key) for r in cs] == [
        0.0, 0.25, 0.5, 0.75, None, 1.25, 1.5]
    # recorded cost_weight = r * loss_weight (0.5 in the config), exactly
    assert [r.cost_weight for r in cs] == [
        0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75]
    assert [r.weight_ratio for r in cs] == [s.weight_ratio
                                            for s in plan.settings]
    assert cs[4].name == 'yolov5-cs-ga-p1235-seed0'
    assert all(r.train_options['cost.group'] == 'a' for r in cs)
    # rendered for the command line and parsed back by mmengine's DictAction
    args = experiments.options_to_args({key: 0.75})
    assert args == [f'{key}=0.75']
    assert experiments.parse_option_strings(args) == {key: 0.75}
    # plain YOLOv5 once, as the reference under group a
    plain = [r for r in plan.runs if not r.cost_sensitive]
    assert len(plain) == 1
    assert [e.name for e in plain[0].evaluations] == ['ga-p1235',
                                                      'ga-p1235-bayes']
    # quick profile: the *_quick configs, no epoch/batch override
    assert plain[0].config.endswith('yolov5_neu_quick.py')
    assert 'train_cfg.max_epochs' not in plain[0].train_options
    assert plain[0].epochs == 2 and plain[0].batch_size == 16


def test_plan_positive_classes_records_seeds(config_dir):
    plan = make_plan('positive-classes', config_dir, repeats=3, pick_seed=7)
    settings = plan.settings
    assert [s.num_positives for s in settings] == [1] * 3 + [2] * 3 + [
        3] * 3 + [4] * 3
    for count in (1, 2, 3, 4):
        picks = [s for s in settings if s.num_positives == count]
        seed = picks[0].pick_seed
        assert seed == experiments.pick_seed_for(7, count)
        assert all(s.pick_seed == seed for s in picks)
        sets = [s.cost.positive_classes for s in picks]
        assert len(set(sets)) == 3  # distinct picks
        assert all(len(p) == count and set(p) <= set(CLASSES) for p in sets)
        # the recorded seed reproduces the picks
        assert experiments.pick_positive_sets(CLASSES, count, 3,
                                              seed) == sets
    again = make_plan('positive-classes', config_dir, repeats=3,
                      pick_seed=7)
    other = make_plan('positive-classes', config_dir, repeats=3,
                      pick_seed=8)
    assert [s.cost for s in again.settings] == [s.cost for s in settings]
    assert [s.cost for s in other.settings] != [s.cost for s in settings]
    # one plain run evaluated under all 12 picks (+ Bayes), 12 CS runs
    plain = [r for r in plan.runs if not r.cost_sensitive]
    assert len(plain) == 1 and len(plain[0].evaluations) == 24
    assert len(plan.runs) == 13
    # k=1 of 6 classes: 6 combinations, repeats capped
    assert len(experiments.pick_positive_sets(CLASSES, 1, 10, 0)) == 6
    with pytest.raises(ValueError, match='number of positive classes'):
        experiments.pick_positive_sets(CLASSES, 6, 1, 0)
    # the plan file records the picks and seeds
    saved = plan.to_json()
    assert saved['settings'][0]['pick_seed'] == experiments.pick_seed_for(
        7, 1)
    assert saved['settings'][0]['positive_classes'] == list(
        settings[0].cost.positive_classes)


def test_plan_batch_size_and_detectors(config_dir):
    plan = make_plan('batch-size', config_dir)
    assert [s.batch_size for s in plan.settings] == [64, 128, 230]
    # the batch changes the training of both models
    assert [(r.cost_sensitive, r.train_options['train_dataloader.batch_size'])
            for r in plan.runs] == [(False, 64), (False, 128), (False, 230),
                                    (True, 64), (True, 128), (True, 230)]
    plan = make_plan('detectors', config_dir, profile='paper')
    by_name = {r.name: r for r in plan.runs}
    frcnn = by_name['faster_rcnn-cs-ga-p1235-seed0']
    assert frcnn.config.endswith('/cs_faster-rcnn_r50_fpn_neu.py')
    assert frcnn.train_options['cost.group'] == 'a'
    assert not any(k.startswith('model.') for k in frcnn.train_options)
    # its loss, under roi_head, was found: cost_weight = 1.0 * 0.5
    assert (frcnn.cost_weight, frcnn.weight_ratio) == (0.5, 1.0)
    # SSD / Faster R-CNN keep their own schedules in the paper profile
    assert 'train_cfg.max_epochs' not in frcnn.train_options
    ssd = by_name['ssd-cs-ga-p1235-seed0']
    assert ssd.train_options['cost.group'] == 'a'
    assert sorted(by_name) == sorted([
        'yolov5-plain-bs230-seed0', 'ssd-plain-seed0',
        'faster_rcnn-plain-seed0', 'yolov5-cs-ga-p1235-bs230-seed0',
        'ssd-cs-ga-p1235-seed0', 'faster_rcnn-cs-ga-p1235-seed0'
    ])


def test_runs_shared_between_experiments(config_dir):
    risk = make_plan('risk-groups', config_dir, profile='paper')
    ratio = make_plan('weight-ratio', config_dir, profile='paper')
    batch = make_plan('batch-size', config_dir, profile='paper')
    plain = risk.runs[0]
    assert plain.name == ratio.runs[0].name == 'yolov5-plain-bs230-seed0'
    assert plain.train_options == ratio.runs[0].train_options
    # same training options -> same run (trained once for all experiments)
    cs_a = next(r for r in risk.runs if r.name.startswith('yolov5-cs-ga'))
    cs_230 = next(r for r in batch.runs
                  if r.cost_sensitive and r.batch_size == 230)
    assert cs_a.name == cs_230.name
    assert cs_a.train_options == cs_230.train_options
    # weight-ratio's r = 1 is the fixture config's own ratio: same training
    cs_default = next(r for r in ratio.runs if r.weight_ratio == 1.0)
    assert cs_default.name == cs_a.name
    assert cs_default.train_options == cs_a.train_options


def test_plan_errors_name_the_fix(config_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match='config not found'):
        make_plan('risk-groups', tmp_path / 'nowhere')
    with pytest.raises(ValueError, match='unknown group'):
        make_plan('risk-groups', config_dir, groups=('e', ))
    plain = config_dir / 'yolov5_neu_quick.py'
    plain.write_text(plain.read_text() + "classes = ('crazing', 'other')\n")
    with pytest.raises(ValueError, match="'other'.*one dataset"):
        make_plan('risk-groups', config_dir)
    (config_dir / 'cs_yolov5_neu_quick.py').write_text(
        loss_config(LOSS_KEYS['yolov5'], PLAIN_LOSS))
    with pytest.raises(ValueError, match='not a CostSensitiveLoss'):
        make_plan('risk-groups', config_dir)
    assert sweep.main(['risk-groups', '--profile', 'quick', '--base-config',
                       str(config_dir / 'yolov5_neu.py'), '--dry-run']) == 2


def resolved(config, options):
    """The config as tools/train.py and tools/test.py load it, given
    ``options`` through the command line (rendered and parsed back)."""
    from csdet.utils.config import load_resolved
    parsed = experiments.parse_option_strings(
        experiments.options_to_args(options))
    return load_resolved(config, parsed)


def test_planned_options_reach_loss_and_metrics(config_dir):
    plan = make_plan('weight-ratio', config_dir, ratios=(0.25, ))
    plain, cs = plan.runs
    cfg = resolved(cs.config, cs.train_options)
    loss = cfg.model.bbox_head.loss_cls
    assert loss.group == 'a'
    assert loss.positive_classes == list(PAPER_POSITIVES)
    assert loss.coefficients is None and loss.classes == list(CLASSES)
    assert loss.cost_weight == cs.cost_weight == 0.125  # 0.25 * 0.5
    # validation during training scores the run's own spec
    assert [m.get('group') for m in cfg.val_evaluator] == [None, 'a', 'a',
                                                           'a']
    cfg = resolved(plain.config, plain.evaluations[1].options)
    assert [(m.get('group'), m.get('bayes_relabel'))
            for m in cfg.test_evaluator] == [(None, None)] + [('a', True)] * 3
    # Faster R-CNN keeps its loss under roi_head; cost.* reaches it too
    plan = make_plan('detectors', config_dir, detectors=('faster_rcnn', ))
    cs = plan.runs[1]
    cfg = resolved(cs.config, cs.train_options)
    assert cfg.model.roi_head.bbox_head.loss_cls.group == 'a'
    assert cfg.model.roi_head.bbox_head.loss_cls.cost_weight == 0.5


def test_cfg_options_are_read_and_may_not_override_the_sweep(config_dir):
    # read when inspecting the configs: the ratio and positives they set
    plan = make_plan('risk-groups', config_dir, groups=('a', ),
                     extra_options={'cost.ratio': 0.5,
                                    'cost.normalize': 'sum'})
    cs = plan.runs[1]
    assert (cs.weight_ratio, cs.cost_weight) == (0.5, 0.25)
    assert cs.train_options['cost.normalize'] == 'sum'
    assert all(e.options['cost.normalize'] == 'sum'
               for r in plan.runs for e in r.evaluations)
    plan = make_plan('risk-groups', config_dir, groups=('a', ),
                     extra_options={'cost.positive_classes': ['crazing']})
    assert plan.positive_classes == ('crazing', )
    # a value the sweep varies is refused, not silently overridden
    with pytest.raises(ValueError, match='cost.group=b contradicts'):
        make_plan('risk-groups', config_dir, groups=('a', ),
                  extra_options={'cost.group': 'b',
                                 'cost.coefficients': None})
    with pytest.raises(ValueError, match='cost.ratio=0.5 contradicts'):
        make_plan('weight-ratio', config_dir, ratios=(0.5, 1.0),
                  extra_options={'cost.ratio': 0.5})
    with pytest.raises(ValueError, match='randomness.seed=3 contradicts'):
        make_plan('risk-groups', config_dir,
                  extra_options={'randomness.seed': 3})


def test_plan_with_the_repository_configs():
    """The default configs: classes from the dataset, the paper's
    positives and r = 0.75 from configs/_base_/datasets/neu_det.py."""
    options = experiments.PlanOptions(profile='quick')
    plan = experiments.plan_experiment('detectors', options)
    assert plan.classes == CLASSES
    assert set(plan.positive_classes) == set(PAPER_POSITIVES)
    cs = {r.detector: r for r in plan.runs if r.cost_sensitive}
    assert sorted(r.name for r in cs.values()) == [
        'faster_rcnn-cs-ga-p1235-seed0', 'ssd-cs-ga-p1235-seed0',
        'yolov5-cs-ga-p1235-seed0']
    # r = 0.75 of each detector's class loss (YOLOv5 loss_weight 0.5)
    assert {k: (r.weight_ratio, r.cost_weight) for k, r in cs.items()} == {
        'yolov5': (0.75, 0.375), 'ssd': (0.75, 0.75),
        'faster_rcnn': (0.75, 0.75)}
    assert all(not any(k.startswith(('model.', 'val_evaluator'))
                       for k in r.train_options) for r in plan.runs)
    cfg = resolved(cs['faster_rcnn'].config, cs['faster_rcnn'].train_options)
    assert cfg.model.roi_head.bbox_head.loss_cls.group == 'a'
    # weight-ratio: r = 0.75 is the default run, the others set cost.ratio
    plan = experiments.plan_experiment(
        'weight-ratio', experiments.PlanOptions(profile='quick',
                                                ratios=(0.5, 0.75)))
    assert [(r.name, r.train_options.get('cost.ratio'))
            for r in plan.runs if r.cost_sensitive] == [
                ('yolov5-cs-ga-p1235-r0.5-seed0', 0.5),
                ('yolov5-cs-ga-p1235-seed0', None)]


def test_option_rendering_round_trip():
    options = {
        'a.positive_classes': ['rolled-in_scale', 'patches'],
        'a.group': 'b', 'a.coefficients': None, 'a.bayes_relabel': True,
        'b.cost_weight': 0.125, 'randomness.seed': 3,
    }
    args = experiments.options_to_args(options)
    assert 'a.positive_classes=[rolled-in_scale,patches]' in args
    assert experiments.parse_option_strings(args) == options
    with pytest.raises(ValueError, match='cannot pass'):
        experiments.options_to_args({'x': 'two words'})


# ---------------------------------------------------------------------------
# execution
def test_sweep_runs_everything_then_is_idempotent(config_dir, fake_commands,
                                                  calls, tmp_path):
    plan = make_plan('risk-groups', config_dir, groups=('a', 'b'))
    sweep_dir = tmp_path / 'sweep'
    statuses = runner.run_sweep(plan, sweep_dir, fake_commands, workers=2,
                                gpus=[], progress=False)
    assert [s.status for s in statuses] == ['done'] * 3
    first = calls()
    assert sorted(c['mode'] for c in first) == ['test'] * 6 + ['train'] * 3
    rows = report.collect_rows(plan, sweep_dir)
    assert len(rows) == 6 and all(r['status'] == 'done' for r in rows)
    for row in rows:
        expected = fake_cost_x1e3(row['cost_sensitive'], row['group'])
        assert row['cost_x1e3'] == pytest.approx(expected)
        assert row['cost'] == pytest.approx(expected / 1000)
        bayes = row['variant'] == 'bayes'
        assert row['label_cost'] == pytest.approx(
            expected * 2e-3 * (0.5 if bayes else 1))
        # CocoMetric is not relabelled: no mAP for the post-hoc rows
        assert (row['mAP_50'] is None) == bayes
        assert row['train_time_s'] is not None
    # each run directory can be repeated by hand
    run = plan.runs[1]
    script = (runner.run_dir(sweep_dir, run) / 'cmd.sh').read_text()
    lines = [line for line in script.splitlines()
             if line and not line.startswith(('#', 'set ', 'cd '))]
    assert len(lines) == 2
    train_line = shlex.split(lines[0])
    assert train_line[:3] == fake_commands.train
    assert train_line[train_line.index('--cfg-options') + 1:] == \
        experiments.options_to_args(run.train_options)
    assert os.access(runner.run_dir(sweep_dir, run) / 'cmd.sh', os.X_OK)
    # second sweep: nothing is run again
    statuses = runner.run_sweep(plan, sweep_dir, fake_commands, workers=2,
                                gpus=[], progress=False)
    assert [s.message for s in statuses] == ['already finished'] * 3
    assert calls() == first
    # another experiment sharing the plain run only adds its evaluations
    more = make_plan('risk-groups', config_dir, groups=('a', 'b', 'c'))
    runner.run_sweep(more, sweep_dir, fake_commands, progress=False)
    new = calls()[len(first):]
    assert sorted((c['mode'], Path(c['work_dir']).name) for c in new) == [
        ('test', 'gc-p1235'), ('test', 'gc-p1235'), ('test', 'gc-p1235-bayes'),
        ('train', 'train')]


def test_resume_after_kill(config_dir, fake_commands, calls, tmp_path,
                           monkeypatch):
    monkeypatch.setenv('FAKE_KILL_FLAG', str(tmp_path / 'killed'))
    plan = make_plan('risk-groups', config_dir, groups=('a', ))
    sweep_dir = tmp_path / 'sweep'
    statuses = runner.run_sweep(plan, sweep_dir, fake_commands, gpus=[],
                                progress=False)
    # the first training died after its epoch-1 checkpoint; the other ran
    assert statuses[0].status == 'failed'
    assert 'killed by signal 9' in statuses[0].message
    assert statuses[1].status == 'done'
    base = runner.run_dir(sweep_dir, plan.runs[0])
    assert (base / 'train' / 'epoch_1.pth').is_file()
    assert not (base / 'train_done.json').exists()
    assert json.loads((base / 'status.json').read_text())['status'] == \
        'failed'
    # a sweep killed hard leaves 'running' behind: not a reason to skip
    runner.write_json(base / 'status.json', dict(status='running', pid=1))
    before = len(calls())
    statuses = runner.run_sweep(plan, sweep_dir, fake_commands, gpus=[],
                                progress=False)
    assert [s.status for s in statuses] == ['done', 'done']
    assert statuses[1].message == 'already finished'
    resumed = calls()[before:]
    assert resumed[0]['mode'] == 'train' and resumed[0]['resume'] is True
    assert [c['mode'] for c in resumed] == ['train', 'test', 'test']
    done = json.loads((base / 'train_done.json').read_text())
    assert [a['resumed'] for a in done['attempts']] == [False, True]
    assert [a['returncode'] for a in done['attempts']] == [-9, 0]
    assert (base / 'train' / 'epoch_2.pth').is_file()
    # both attempts' logs make one curve (scalars of two timestamp dirs)
    records = report.read_scalars(base / 'train')
    assert [r['step'] for r in records] == [5, 10]


def test_finished_training_without_marker_is_not_repeated(
        config_dir, fake_commands, calls, tmp_path):
    # killed after the training's last epoch, before train_done.json
    plan = make_plan('risk-groups', config_dir, groups=('a', ))
    sweep_dir = tmp_path / 'sweep'
    runner.run_sweep(plan, sweep_dir, fake_commands, progress=False)
    base = runner.run_dir(sweep_dir, plan.runs[0])
    done = json.loads((base / 'train_done.json').read_text())
    (base / 'train_done.json').unlink()
    (base / 'status.json').unlink()
    before = len(calls())
    statuses = runner.run_sweep(plan, sweep_dir, fake_commands,
                                progress=False)
    assert [s.status for s in statuses] == ['done', 'done']
    assert calls()[before:] == []  # epoch_2.pth is the schedule's last
    assert json.loads((base / 'train_done.json').read_text()) == done


def test_failure_is_isolated_and_reported(config_dir, fake_commands, calls,
                                          tmp_path, monkeypatch, capsys):
    # the CS group-b training (its run directory is in the command line)
    monkeypatch.setenv('FAKE_FAIL', 'yolov5-cs-gb-p1235-seed0/')
    sweep_dir = tmp_path / 'sweep'
    argv = [
        'risk-groups', '--profile', 'quick', '--base-config',
        str(config_dir / 'yolov5_neu.py'), '--work-dir', str(sweep_dir),
        '--groups', 'a', 'b', 'c', '--gpus', '', '--no-progress',
        '--train-cmd', shlex.join(fake_commands.train), '--test-cmd',
        shlex.join(fake_commands.test)
    ]
    assert sweep.main(argv) == 1
    out = capsys.readouterr().out
    assert '3 done, 1 failed' in out
    assert 'FAILED [2] yolov5-cs-gb-p1235-seed0: training exited with code 3'\
        in out
    assert 'fake failure' in out  # the log tail
    status = json.loads((sweep_dir / 'runs' / 'yolov5-cs-gb-p1235-seed0' /
                         'status.json').read_text())
    assert status['status'] == 'failed' and 'fake failure' in \
        status['log_tail']
    results = json.loads(
        (sweep_dir / 'risk-groups' / 'results.json').read_text())
    assert {(r['model'], r['setting']): r['status'] for r in results} == {
        **{('YOLOv5', g): 'done' for g in 'abc'},
        **{('YOLOv5 + Bayes relabel', g): 'done' for g in 'abc'},
        ('CS-YOLOv5', 'a'): 'done', ('CS-YOLOv5', 'b'): 'failed',
        ('CS-YOLOv5', 'c'): 'done'}
    tables = (sweep_dir / 'risk-groups' / 'tables.md').read_text()
    assert 'failed runs: yolov5-cs-gb-p1235-seed0' in tables
    assert '| CS-YOLOv5 | group b | failed |' in tables
    # fixed: the rerun only redoes the failed run
    monkeypatch.delenv('FAKE_FAIL')
    before = len(calls())
    assert sweep.main(argv) == 0
    assert [c['mode'] for c in calls()[before:]] == ['train', 'test']


def test_run_id_and_busy_lock(config_dir, fake_commands, calls, tmp_path):
    import fcntl
    plan = make_plan('risk-groups', config_dir, groups=('a', 'b'))
    sweep_dir = tmp_path / 'sweep'
    statuses = runner.run_sweep(plan, sweep_dir, fake_commands,
                                run_ids=[2], progress=False)
    assert [(s.run_id, s.status) for s in statuses] == [(2, 'done')]
    assert {Path(c['work_dir']).parts[-2] for c in calls()
            if c['mode'] == 'train'} == {plan.runs[2].name}
    with pytest.raises(ValueError, match='outside'):
        runner.run_sweep(plan, sweep_dir, fake_commands, run_ids=[3])
    # a run directory held by another process is skipped, not failed
    lock_path = runner.run_dir(sweep_dir, plan.runs[1]) / '.lock'
    lock_path.parent.mkdir(parents=True)
    with open(lock_path, 'w') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        statuses = runner.run_sweep(plan, sweep_dir, fake_commands,
                                    run_ids=[1], progress=False)
    assert statuses[0].status == 'busy'


def test_reusing_a_run_dir_with_other_options_fails(config_dir,
                                                    fake_commands, calls,
                                                    tmp_path):
    plan = make_plan('risk-groups', config_dir, groups=('a', ))
    sweep_dir = tmp_path / 'sweep'
    base = runner.run_dir(sweep_dir, plan.runs[0])
    runner.write_json(base / 'train_spec.json',
                      dict(config='other.py', options=[]))
    statuses = runner.run_sweep(plan, sweep_dir, fake_commands,
                                progress=False)
    assert statuses[0].status == 'failed'
    assert 'different options' in statuses[0].message
    assert statuses[1].status == 'done'


def test_worker_env_assigns_gpus_and_threads(monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    assert runner.worker_env(3, 4, ['0', '1'])['CUDA_VISIBLE_DEVICES'] == '1'
    env = runner.worker_env(0, 2, [])
    assert 'CUDA_VISIBLE_DEVICES' not in env or \
        env['CUDA_VISIBLE_DEVICES'] == os.environ.get('CUDA_VISIBLE_DEVICES')
    assert env['OMP_NUM_THREADS'] == str(max(1, (os.cpu_count() or 1) // 2))


# ---------------------------------------------------------------------------
# Slurm
def test_slurm_scripts(config_dir, tmp_path, capsys):
    sweep_dir = tmp_path / 'sweep'
    argv = [
        'risk-groups', '--profile', 'quick', '--base-config',
        str(config_dir / 'yolov5_neu.py'), '--work-dir', str(sweep_dir),
        '--seeds', '0', '1', '--slurm', '--partition', 'gpu',
        '--gpus-per-job', '2', '--max-parallel', '4', '--time', '12:00:00',
        '--sbatch-arg=--qos=high'
    ]
    assert sweep.main(argv) == 0
    array = (sweep_dir / 'slurm' / 'risk-groups_array.sbatch').read_text()
    lines = array.splitlines()
    assert lines[0] == '#!/usr/bin/env bash'
    for expected in ('#SBATCH --array=0-9%4', '#SBATCH --partition=gpu',
                     '#SBATCH --gres=gpu:2', '#SBATCH --time=12:00:00',
                     '#SBATCH --qos=high', '#   0: yolov5-plain-seed0',
                     '#   9: yolov5-cs-gd-p1235-seed1'):
        assert expected in lines
    exec_line = next(line for line in lines if line.startswith('exec '))
    assert exec_line.endswith('--run-id "$SLURM_ARRAY_TASK_ID" '
                              '--no-progress')
    # the task command plans exactly the same runs (run ids match)
    task = shlex.split(exec_line[len('exec '):])
    assert task[1] == str(PROJECT / 'sweep.py')
    task_args = sweep.build_parser().parse_args(
        [arg if arg != '$SLURM_ARRAY_TASK_ID' else '5' for arg in task[2:]])
    assert task_args.run_id == [5]
    original = make_plan('risk-groups', config_dir, seeds=(0, 1))
    replanned = experiments.plan_experiment(
        'risk-groups', sweep.plan_options(task_args))
    assert [r.name for r in replanned.runs] == [r.name for r in
                                                original.runs]
    assert [r.train_options for r in replanned.runs] == [
        r.train_options for r in original.runs]
    report_script = (sweep_dir / 'slurm' /
                     'risk-groups_report.sbatch').read_text()
    assert report_script.rstrip().endswith('--report-only')
    assert '--gres' not in report_script and '--array' not in report_script
    assert 'sbatch' in capsys.readouterr().out


def test_slurm_submit_without_sbatch(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))  # no sbatch on PATH
    with pytest.raises(RuntimeError, match='sbatch not found'):
        slurm.submit(tmp_path / 'a.sbatch', tmp_path / 'b.sbatch')


# ---------------------------------------------------------------------------
# report from fixture results
def fixture_rows(plan):
    """Rows with hand-picked numbers (the paper's group a/b costs as
    cost_pos, twice them as cost_det)."""
    values = {
        ('YOLOv5', 'a'): (0.76, 0.74, 3.68, 0.0400, 120.0),
        ('YOLOv5', 'b'): (0.74, 0.72, 3.78, 0.0500, 130.0),
        ('YOLOv5 + Bayes relabel', 'a'): (None, 0.73, 3.68, 0.0200, 90.0),
        ('YOLOv5 + Bayes relabel', 'b'): (None, 0.71, 3.78, 0.0250, 100.0),
        ('CS-YOLOv5', 'a'): (0.75, 0.74, 0.470, 0.0050, 60.0),
        ('CS-YOLOv5', 'b'): (0.76, 0.74, 0.337, 0.0040, 50.0),
    }
    rows = []
    for run in plan.runs:
        for evaluation in run.evaluations:
            model = run.model + (' + Bayes relabel'
                                 if evaluation.bayes_relabel else '')
            m50, f1, cost, label, decision = values[(model,
                                                     evaluation.setting.key)]
            rows.append(dict(
                experiment=plan.experiment, setting=evaluation.setting.key,
                setting_label=evaluation.setting.label, model=model,
                variant='bayes' if evaluation.bayes_relabel else 'model',
                detector='yolov5', cost_sensitive=run.cost_sensitive,
                seed=run.seed, group=evaluation.setting.cost.group,
                positive_classes=';'.join(PAPER_POSITIVES), num_positives=4,
                pick_seed=None, weight_ratio=None, cost_weight=None,
                batch_size=230, epochs=90, mAP_50=m50, mAP=0.4, F1=f1,
                **{'F1_at_0.25': f1}, cost_pos_x1e3=cost,
                num_loss_positives=9000, cost=2 * cost / 1000,
                cost_x1e3=2 * cost,
                label_cost=label, num_matched=280, decision_cost=decision,
                status='done', train_time_s=100.0, run_id=run.run_id,
                run_name=run.name, evaluation=evaluation.name, config='',
                work_dir=''))
    return rows


def test_tables_from_fixture_results(config_dir):
    plan = make_plan('risk-groups', config_dir, profile='paper',
                     groups=('a', 'b'))
    tables = report.tables_markdown(plan, fixture_rows(plan))
    assert '6/6 evaluations done' in tables
    for line in (
            '| YOLOv5 | group a | 0.760 | 0.400 | 0.740 | 3.680 | 7.360 '
            '| 0.0400 | 120.00 | 100 | 1 |',
            '| YOLOv5 + Bayes relabel | group b | – | 0.400 | 0.710 | 3.780 '
            '| 7.560 | 0.0250 | 100.00 | 100 | 1 |',
            '| CS-YOLOv5 | group b | 0.760 | 0.400 | 0.740 | 0.337 | 0.674 '
            '| 0.0040 | 50.00 | 100 | 1 |',
            # (3.68 - 0.47) / 3.68 = 87.2 %, (90 - 60) / 90 = 33.3 %
            '| group a | 3.680 | 0.470 | 87.2% | 7.360 | 0.940 | 87.2% '
            '| 0.0400 | 0.0200 | 0.0050 | 120.00 | 90.00 | 60.00 | 33.3% |',
            # (3.78 - 0.337) / 3.78 = 91.1 %, (100 - 50) / 100 = 50.0 %
            '| group b | 3.780 | 0.337 | 91.1% | 7.560 | 0.674 | 91.1% '
            '| 0.0500 | 0.0250 | 0.0040 | 130.00 | 100.00 | 50.00 | 50.0% |',
            # per seed (one seed here): the same reduction
            '| group a | 0 | 87.2%  (87.2%) | 87.2%  (87.2%) |'):
        assert line in tables, line
    # the paper's own numbers are listed for comparison
    assert '| CS-YOLOv5 | d | 0.74 | 0.72 | 0.341 |' in tables
    assert '| reduction | d |  |  | 91.9% |' in tables
    # table rows are ordered plain, post-hoc, cost-sensitive
    assert tables.index('| YOLOv5 | group b') < tables.index(
        '| YOLOv5 + Bayes') < tables.index('| CS-YOLOv5 | group a')


def test_seed_means_and_failed_cells(config_dir):
    plan = make_plan('risk-groups', config_dir, groups=('a', 'b'),
                     seeds=(0, 1))
    rows = fixture_rows(plan)
    for row in rows:
        if row['model'] == 'CS-YOLOv5' and row['seed'] == 1:
            row['cost_pos_x1e3'] = 0.670 if row['setting'] == 'a' else None
            if row['setting'] == 'b':
                row['status'] = 'failed'
    tables = report.tables_markdown(plan, rows)
    # group a: mean (0.47 + 0.67) / 2 = 0.570, std 0.1414
    assert '0.570 ± 0.141' in tables
    # group b: one seed failed -> the mean of the finished one, n = 1
    assert '| CS-YOLOv5 | group b | 0.760 | 0.400 | 0.740 | 0.337 |' in tables
    mean, std, count = report.mean_std([1.0, None, 3.0])
    assert (mean, count) == (2.0, 2) and std == pytest.approx(math.sqrt(2))


def test_positive_count_and_weight_ratio_tables(config_dir):
    plan = make_plan('positive-classes', config_dir, repeats=2,
                     positive_counts=(1, 2))
    rows = []
    for run in plan.runs:
        for evaluation in run.evaluations:
            k = evaluation.setting.num_positives
            pick = int(evaluation.setting.key.split('-')[1])
            cost = (4.0 + k) if not run.cost_sensitive else (0.5 * pick)
            rows.append(dict(
                setting=evaluation.setting.key, model=run.model + (
                    ' + Bayes relabel' if evaluation.bayes_relabel else ''),
                variant='bayes' if evaluation.bayes_relabel else 'model',
                detector='yolov5', cost_sensitive=run.cost_sensitive,
                seed=0, num_positives=k, status='done', cost_pos_x1e3=cost,
                mAP_50=0.7, mAP=0.4, F1=0.6, label_cost=0.01,
                decision_cost=1.0, train_time_s=1.0, run_name=run.name))
    table = report.positive_count_table(plan, rows)
    # k=1: plain 5.0, CS mean(0.5, 1.0) = 0.75 -> 85.0 %;
    # k=2: plain 6.0, CS 0.75 -> 87.5 %
    assert '| 1 | 5.000 | 0.750 | 85.0% |' in table
    assert '| 2 | 6.000 | 0.750 | 87.5% |' in table
    assert '| CS-YOLOv5 | 2 | 2 |' in table  # two picks averaged
    paper = report.paper_table('weight-ratio')
    assert '| 1 | 0.68 | 0.67 |' in paper and '0 (YOLOv5)' in paper


def write_scalars(train_dir, stamp, records):
    path = Path(train_dir) / stamp / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text('\n'.join(json.dumps(r) for r in records) + '\n')


def test_read_scalars_joins_attempts(tmp_path):
    write_scalars(tmp_path, '20240101_000000', [
        dict(loss_cls_ce=1.0, loss_cls_cost=0.2, step=10),
        dict(loss_cls_ce=0.9, loss_cls_cost=0.1, step=20),
        {'coco/bbox_mAP': 0.1, 'step': 1}])
    write_scalars(tmp_path, '20240101_010000', [
        dict(loss_cls_ce=0.8, loss_cls_cost=0.1, step=20),
        dict(loss_cls_ce=0.7, loss_cls_cost=0.05, step=30)])
    records = report.read_scalars(tmp_path)
    assert [(r['step'], r['loss_cls_ce']) for r in records] == [
        (10, 1.0), (20, 0.8), (30, 0.7)]


@pytest.mark.parametrize('experiment', ['risk-groups', 'weight-ratio',
                                        'positive-classes', 'detectors'])
def test_plots_are_written(config_dir, tmp_path, experiment):
    plan = make_plan(experiment, config_dir, repeats=1,
                     positive_counts=(1, 2), ratios=(0.0, 0.5))
    rows = []
    for run in plan.runs:
        for index, evaluation in enumerate(run.evaluations):
            rows.append(dict(
                setting=evaluation.setting.key, model=run.model,
                variant='bayes' if evaluation.bayes_relabel else 'model',
                detector=run.detector, cost_sensitive=run.cost_sensitive,
                seed=0, num_positives=evaluation.setting.num_positives,
                status='done', cost_x1e3=1.0 + index,
                cost_pos_x1e3=2.0 + index, label_cost=0.01,
                mAP_50=0.7))
        write_scalars(runner.run_dir(tmp_path, run) / 'train',
                      '20240101_000000',
                      [dict(loss_cls_ce=1.0 / s, loss_cls_cost=0.1 / s,
                            step=s) for s in (1, 2, 3)])
    for path in (report.plot_costs(plan, rows, tmp_path / 'cost.png'),
                 report.plot_training_curves(plan, tmp_path,
                                             tmp_path / 'curves.png')):
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000


def test_write_report_files(config_dir, fake_commands, calls, tmp_path):
    plan = make_plan('weight-ratio', config_dir, ratios=(0.0, 0.5))
    sweep_dir = tmp_path / 'sweep'
    runner.run_sweep(plan, sweep_dir, fake_commands, progress=False)
    folder = report.write_report(plan, sweep_dir)
    names = {p.name for p in folder.iterdir()}
    assert {'results.csv', 'results.json', 'tables.md', 'cost.png',
            'training_curves.png', 'status.json'} <= names
    for png in ('cost.png', 'training_curves.png'):
        assert (folder / png).read_bytes().startswith(PNG_SIGNATURE)
    csv_lines = (folder / 'results.csv').read_text().splitlines()
    assert csv_lines[0].split(',')[:3] == ['experiment', 'setting',
                                           'setting_label']
    assert len(csv_lines) == 1 + 4  # plain, plain+Bayes, r=0, r=0.5
    rows = json.loads((folder / 'results.json').read_text())
    cs = {r['setting']: r for r in rows if r['cost_sensitive']}
    assert cs['r0.5']['cost_weight'] == 0.25
    assert cs['r0.5']['weight_ratio'] == 0.5
    tables = (folder / 'tables.md').read_text()
    # CS rows compare against the plain reference: (4.0 - 0.5) / 4.0, in
    # cost_pos (the fake tools report twice cost_det) and cost_det
    assert '| r = 0.5 | 8.000 | 1.000 | 87.5% | 4.000 | 0.500 | 87.5% |' \
        in tables
    assert '| YOLOv5 | no cost term | 0.750 |' in tables
