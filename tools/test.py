"""Evaluate a trained detector: python tools/test.py CONFIG CHECKPOINT.

CHECKPOINT is a .pth file, a work dir, or a work dir's last_checkpoint file.
Prints the metrics the config's test_evaluator computes (COCO mAP, the
paper's cost metric, F1, ...) and writes them to <work-dir>/test_metrics.json.

    python tools/test.py configs/cs_yolov5_neu.py work_dirs/cs_yolov5_neu
    python tools/test.py CONFIG CKPT --out preds.pkl --show-dir vis
    python tools/test.py CONFIG CKPT --decision argmax min-risk thresholds.json

--decision scores deployment decision rules side by side on the test split
(every DecisionCostMetric of test_evaluator gets them: 'argmax' at its
score_thr, 'min-risk', per-class thresholds JSON files from
tools/tune_thresholds.py) and ends with a comparison table.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Sequence

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import csdet  # noqa: F401  (registers modules and checkpoint safe globals)
from csdet.datasets.check import check_config_datasets, enable_skip_bad
from csdet.utils.config import type_name, walk_dicts
from csdet.utils.runner_setup import (UserInputError, check_dataset_files,
                                      close_distributed,
                                      init_cpu_distributed, load_config,
                                      local_rank_env, resolve_checkpoint)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a detector')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='.pth file, work dir, or '
                        'last_checkpoint file')
    parser.add_argument('--work-dir', help='where logs and metrics go')
    parser.add_argument('--out', help='dump raw predictions to this .pkl')
    parser.add_argument('--show-dir', help='draw predictions into this '
                        'folder (relative to the work dir\'s timestamp dir)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--skip-bad', action='store_true',
                        help='leave out the images the dataset check finds '
                        'bad (undecodable, bad boxes) instead of stopping')
    parser.add_argument('--decision', nargs='+', metavar='RULE',
                        help="decision rules to compare: 'argmax', "
                        "'min-risk' and/or thresholds JSON files (from "
                        'tools/tune_thresholds.py); needs a '
                        'DecisionCostMetric in test_evaluator')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


def add_outputs(cfg, args) -> None:
    """--out and --show-dir, the mmdet way (DumpDetResults, vis hook)."""
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise UserInputError('--out must end with .pkl or .pickle')
        evaluator = cfg.test_evaluator
        if isinstance(evaluator, dict):
            evaluator = [evaluator]
        cfg.test_evaluator = list(evaluator) + [
            dict(type='DumpDetResults', out_file_path=args.out)]
    if args.show_dir:
        hook = cfg.default_hooks.visualization
        hook.draw, hook.test_out_dir = True, args.show_dir


def decision_metric_nodes(cfg: Config) -> List[dict]:
    """The DecisionCostMetric configs (and subclasses' but the tuning
    metric's) of test_evaluator."""
    from mmdet.registry import METRICS

    from csdet.evaluation.metrics import (DecisionCostMetric,
                                          ThresholdTuningMetric)

    found = []
    for _, node in walk_dicts(cfg.get('test_evaluator')):
        cls = METRICS.get(node['type']) if type_name(node) else None
        if (isinstance(cls, type) and issubclass(cls, DecisionCostMetric)
                and not issubclass(cls, ThresholdTuningMetric)):
            found.append(node)
    return found


def set_decision_rules(cfg: Config, rules: Sequence[str]) -> List[str]:
    """--decision: check the rules against the config's classes, then set
    them on every DecisionCostMetric of test_evaluator; returns the rule
    names.

    Raises:
        UserInputError: no DecisionCostMetric, an unreadable or mismatched
            thresholds file, two rules with one name.
    """
    from csdet.cost.deploy_decision import build_decision_rule
    from csdet.evaluation.metrics.decision_cost_metric import (NAMED_RULES,
                                                               rule_names)

    nodes = decision_metric_nodes(cfg)
    if not nodes:
        raise UserInputError(
            '--decision needs a DecisionCostMetric in test_evaluator, and '
            'the config has none; add dict(type=\'DecisionCostMetric\', '
            'score_thr=0.25) to test_evaluator (configs/_base_/datasets/'
            'defect_coco.py has one)')
    specs = [rule if rule in NAMED_RULES else osp.abspath(rule)
             for rule in rules]
    classes = list(cfg.classes)
    placeholder = np.zeros((len(classes) + 1, len(classes) + 1))
    try:
        names = rule_names(specs)
        for spec in specs:
            build_decision_rule(spec, placeholder, classes)
    except (ValueError, FileNotFoundError) as error:
        raise UserInputError(f'--decision: {error}') from None
    for node in nodes:
        node['decision_rules'] = list(specs)
    return names


def decision_table(metrics: Dict[str, object], names: Sequence[str]) -> str:
    """The --decision comparison: one row per (metric, rule) found in
    ``metrics`` (keys ``<prefix>/<rule>/<number>``)."""
    columns = (('total_cost', 'total cost', '.4f'),
               ('cost_per_image', 'cost/image', '.4f'),
               ('num_missed', 'missed', 'd'),
               ('num_false_alarms', 'false alarms', 'd'),
               ('num_misclassified', 'misclassified', 'd'))
    prefixes = []
    for key in metrics:
        head, _, last = key.rpartition('/')
        prefix, _, rule = head.rpartition('/')
        if last == 'total_cost' and rule in names and prefix not in prefixes:
            prefixes.append(prefix)
    rows = []
    for prefix in prefixes:
        for name in names:
            label = name if len(prefixes) == 1 else f'{prefix}/{name}'
            rows.append([label] + [
                format(metrics[f'{prefix}/{name}/{key}'], spec)
                for key, _, spec in columns
            ])
    header = ['rule'] + [title for _, title, _ in columns]
    widths = [max(len(row[i]) for row in [header] + rows)
              for i in range(len(header))]
    lines = ['  '.join(cell.ljust(width) if i == 0 else cell.rjust(width)
                       for i, (cell, width) in enumerate(zip(row, widths)))
             for row in [header] + rows]
    return '\n'.join(lines)


def build_runner(cfg: Config) -> Runner:
    """The config's runner (``runner_type`` when set, else mmengine's)."""
    return (RUNNERS.build(cfg) if 'runner_type' in cfg
            else Runner.from_cfg(cfg))


def format_metrics(metrics: dict) -> str:
    width = max(len(k) for k in metrics) if metrics else 0
    lines = []
    for key, value in metrics.items():
        shown = f'{value:.4f}' if isinstance(value, float) else str(value)
        lines.append(f'{key:<{width}}  {shown}')
    return '\n'.join(lines)


def main() -> int:
    args = parse_args()
    local_rank_env(args.local_rank)
    try:
        cfg = load_config(args.config, args.cfg_options, args.work_dir,
                          args.launcher)
        cfg.load_from = resolve_checkpoint(args.checkpoint)
        decision_names = (set_decision_rules(cfg, args.decision)
                          if args.decision else None)
        check_dataset_files(cfg, splits=('test', ))
        if args.skip_bad:
            enable_skip_bad(cfg, splits=('test', ))
        check_config_datasets(cfg, splits=('test', ), skip_bad=args.skip_bad)
        add_outputs(cfg, args)
        # test a Conv+BN-fused copy of models whose test_cfg asks for it
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='FuseConvBNHook')]
    except UserInputError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    init_cpu_distributed(cfg)
    runner = build_runner(cfg)
    metrics = runner.test()
    close_distributed()
    serializable = {k: (v if isinstance(v, (int, float, str)) else str(v))
                    for k, v in metrics.items()}
    with open(osp.join(cfg.work_dir, 'test_metrics.json'), 'w') as f:
        json.dump(serializable, f, indent=2)
    print('\nTest metrics (' + cfg.load_from + '):')
    print(format_metrics(serializable))
    if decision_names:
        print('\nDecision rules (' + ', '.join(args.decision) + '):')
        print(decision_table(metrics, decision_names))
    return 0


if __name__ == '__main__':
    sys.exit(main())
