"""Tune per-class score thresholds on the validation split:
python tools/tune_thresholds.py CONFIG CHECKPOINT --out thresholds.json

Runs the detector on the config's val_dataloader (mmengine Runner, as
tools/test.py) and tunes one score threshold per class, starting from the
DecisionCostMetric's score_thr (0.25), for the lowest realised decision cost
(--objective decision_cost, priced like the config's DecisionCostMetric) or
the highest per-class F1 (--objective f1). Writes the thresholds JSON (with
the annotation file it was tuned on) and prints start against tuned cost
and macro F1 on the validation split. The validation split must not be the
test split: thresholds tuned on the test split would make its numbers
optimistic.

    python tools/dataset_converters/neu_det.py --src path/to/NEU-DET \\
        --val-per-class 25 --out data/NEU-DET-val
    python tools/tune_thresholds.py configs/cs_yolov5_neu.py \\
        work_dirs/cs_yolov5_neu --out work_dirs/thresholds.json \\
        --cfg-options data_root=data/NEU-DET-val/ \\
        val_ann_file=annotations/val.json
    python tools/test.py configs/cs_yolov5_neu.py work_dirs/cs_yolov5_neu \\
        --cfg-options data_root=data/NEU-DET-val/ \\
        --decision argmax min-risk work_dirs/thresholds.json

Exit codes: 0 done, 2 bad input (nothing is run).
"""
import argparse
import importlib.util
import json
import os.path as osp
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Optional, Tuple

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import csdet  # noqa: F401  (registers modules and checkpoint safe globals)
from csdet.datasets.check import check_config_datasets, enable_skip_bad
from csdet.evaluation.metrics import ThresholdTuningMetric
from csdet.utils.config import (ConfigSettingError, innermost_dataset,
                                resolve_config)
from csdet.utils.runner_setup import (UserInputError, check_dataset_files,
                                      load_config, resolve_checkpoint)

#: DecisionCostMetric settings the tuning metric takes over, so that the
#: tuned cost is the one tools/test.py reports.
SHARED_SETTINGS = ('score_thr', 'iou_thr', 'missed_cost', 'false_alarm_cost',
                   'gt_source', 'gt_coords', 'cost_matrix', 'classes',
                   'positive_classes', 'coefficients', 'group', 'normalize')
SPLIT_FIX = (
    'Tune on a validation split of its own: convert with one (NEU-DET: '
    'python tools/dataset_converters/neu_det.py --src path/to/NEU-DET '
    '--val-per-class 25 --out data/NEU-DET-val) and point the config at it '
    '(--cfg-options data_root=data/NEU-DET-val/ '
    'val_ann_file=annotations/val.json).')


def load_test_tool() -> ModuleType:
    """tools/test.py as a module (its runner and printing helpers)."""
    path = Path(__file__).with_name('test.py')
    spec = importlib.util.spec_from_file_location('csdet_tools_test', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Tune per-class score thresholds on the validation '
        'split')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='.pth file, work dir, or '
                        'last_checkpoint file')
    parser.add_argument('--out', required=True,
                        help='thresholds JSON to write')
    parser.add_argument('--objective', default='decision_cost',
                        choices=['decision_cost', 'f1'],
                        help='what the thresholds optimise on the '
                        'validation split (default: decision_cost)')
    parser.add_argument('--work-dir', help='where logs go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--skip-bad', action='store_true',
                        help='leave out the validation images the dataset '
                        'check finds bad instead of stopping')
    return parser.parse_args()


def split_ann_path(cfg: Config, split: str) -> Optional[str]:
    """Absolute path of the annotation file a split's dataset reads (None
    without that split or file)."""
    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        return None
    dataset = innermost_dataset(loader)
    if not dataset.get('ann_file'):
        return None
    return osp.realpath(
        osp.join(dataset.get('data_root') or '', dataset['ann_file']))


def check_separate_splits(cfg: Config) -> Tuple[str, Optional[str]]:
    """(validation, test) annotation paths.

    Raises:
        UserInputError: no validation split, or it is the test split.
    """
    val_path = split_ann_path(cfg, 'val')
    test_path = split_ann_path(cfg, 'test')
    if val_path is None or not cfg.get('val_cfg'):
        raise UserInputError(
            'the config has no validation split to tune on (val_dataloader '
            'with an ann_file, val_cfg). ' + SPLIT_FIX)
    if val_path == test_path:
        setting = ('val_ann_file is None, so validation reads the test file'
                   if 'val_ann_file' in cfg and cfg.val_ann_file is None else
                   'validation and test read the same file')
        raise UserInputError(
            f'refusing to tune on the test split: {setting} (val: '
            f'{val_path}, test: {test_path}). ' + SPLIT_FIX)
    return val_path, test_path


def decision_settings(cfg: Config) -> Dict[str, Any]:
    """:data:`SHARED_SETTINGS` of the config's DecisionCostMetric (test
    evaluator first, then validation); {} when there is none."""
    from mmdet.registry import METRICS

    from csdet.evaluation.metrics import DecisionCostMetric
    from csdet.utils.config import type_name, walk_dicts

    for split in ('test', 'val'):
        for _, node in walk_dicts(cfg.get(f'{split}_evaluator')):
            cls = METRICS.get(node['type']) if type_name(node) else None
            if (isinstance(cls, type) and issubclass(cls, DecisionCostMetric)
                    and not issubclass(cls, ThresholdTuningMetric)):
                return {key: node[key] for key in SHARED_SETTINGS
                        if key in node}
    return {}


def set_tuning_evaluator(cfg: Config, out_file: str, objective: str,
                         val_path: str, provenance: Dict[str, str]) -> None:
    """Validation evaluates with one ThresholdTuningMetric only; the cost
    settings are resolved into it; no checkpoint is saved."""
    cfg.val_evaluator = [
        dict(type='ThresholdTuningMetric', out_file=out_file,
             ann_file=val_path, objective=objective, provenance=provenance,
             **decision_settings(cfg))
    ]
    # the default hook would save a "best" checkpoint after validation
    cfg.default_hooks = dict(cfg.get('default_hooks') or {}, checkpoint=None)
    try:
        resolve_config(cfg)
    except ConfigSettingError as error:
        raise UserInputError(str(error)) from None


def attach_loaded_ann_file(runner: Runner,
                           test_path: Optional[str]) -> Tuple[str, int]:
    """Build the validation loop, refuse it if its dataset loaded the test
    file, and record the loaded file in the tuning metric; returns (file,
    number of images)."""
    loop = runner.val_loop
    dataset = loop.dataloader.dataset
    loaded = osp.realpath(dataset.ann_file)
    if loaded == test_path:
        raise UserInputError(
            f'refusing to tune: the validation dataset loaded the test file '
            f'{loaded}. ' + SPLIT_FIX)
    for metric in loop.evaluator.metrics:
        if isinstance(metric, ThresholdTuningMetric):
            metric.ann_file = loaded
    return loaded, len(dataset)


def summary(payload: Dict[str, Any]) -> str:
    """Start against tuned numbers and the thresholds, for the console."""
    def shown(value: Optional[float]) -> str:
        return 'n/a' if value is None else f'{value:.4f}'

    start = f"start ({payload['start_threshold']:g})"
    rows = [('', start, 'tuned')]
    for key, title in (('decision_cost', 'decision cost'),
                       ('macro_f1', 'macro F1')):
        rows.append((title, shown(payload[key]['start']),
                     shown(payload[key]['tuned'])))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ['  '.join(cell.ljust(width) if i == 0 else cell.rjust(width)
                       for i, (cell, width) in enumerate(zip(row, widths)))
             for row in rows]
    thresholds = ', '.join(f'{name} {value:.2f}'
                           for name, value in payload['thresholds'].items())
    return '\n'.join(lines + [f'thresholds: {thresholds}'])


def main() -> int:
    args = parse_args()
    out_file = osp.abspath(args.out)
    try:
        if not out_file.endswith('.json') or osp.isdir(out_file):
            raise UserInputError(f'--out must be a .json file path, got '
                                 f'{args.out}')
        cfg = load_config(args.config, args.cfg_options, args.work_dir)
        cfg.load_from = resolve_checkpoint(args.checkpoint)
        val_path, test_path = check_separate_splits(cfg)
        check_dataset_files(cfg, splits=('val', ))
        set_tuning_evaluator(
            cfg, out_file, args.objective, val_path,
            dict(config=osp.abspath(args.config),
                 checkpoint=osp.abspath(cfg.load_from)))
        if args.skip_bad:
            enable_skip_bad(cfg, splits=('val', ))
        check_config_datasets(cfg, splits=('val', ), skip_bad=args.skip_bad)
        runner = load_test_tool().build_runner(cfg)
        loaded, num_images = attach_loaded_ann_file(runner, test_path)
    except UserInputError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    print(f'Tuning on {loaded} ({num_images} images), objective '
          f'{args.objective}')
    runner.val()
    with open(out_file) as file:
        payload = json.load(file)
    print(f"\nValidation split {payload['tuned_on']['ann_file']} "
          f"({payload['num_images']} images):")
    print(summary(payload))
    print(f'wrote {out_file}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
