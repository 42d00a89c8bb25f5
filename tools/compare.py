"""Train, test and time several configs; print and save one comparison table.

    python tools/compare.py configs/yolov5_neu_quick.py \
        configs/cs_yolov5_neu_quick.py --work-dir work_dirs/compare \
        [--runs cs_yolov5_neu_quick=work_dirs/demo]

Each CONFIG works in <work-dir>/<CONFIG stem>/ (compare_train.log and
compare_test.log hold the tools' output); ``--runs CONFIG=PATH`` names an
existing work dir or .pth to use instead. Re-running redoes nothing
(csdet.utils.jobs runs the tools): a training is skipped when its dir has
the final epoch's (iteration's) checkpoint, resumed (tools/train.py
--resume) when it stopped earlier, and a test is skipped when
test_metrics.json is newer than the checkpoint. A failing config is
reported in its row and, with its log's tail, on stderr; the others go on,
and the exit code is 1. "train img/s" comes from the training log when
there is one (median of batch size / iteration time in
*/vis_data/scalars.json, with the batch size each run logged in its
vis_data/config.py; data loading included; per process under DDP), else
from csdet.utils.benchmark (model compute only), which also times
inference (batch 1, the tested checkpoint's weights on the first
--bench-iters test images, so NMS sees a trained model's boxes on real
images). "cost vs plain" is a cost-sensitive row's
cost relative to its plain twin (the row with the same detector, parameter
count, input size, epochs and batch), e.g. -62% for 6.33 -> 2.43.
Writes <work-dir>/<out-name>.md, .csv and .png (mAP@0.5 against cost, an
arrow from each plain config to its cost-sensitive twin) and prints the
markdown table.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import json
import os
import shlex
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmdet.registry import MODELS
from tqdm import tqdm

import csdet  # noqa: F401  (registers csdet modules)
from csdet.utils.benchmark import (benchmark_model, count_parameters,
                                   input_size, load_test_images)
from csdet.utils.checkpoint import find_checkpoint
from csdet.utils.jobs import (METRICS_FILE, JobFailed, ToolCommands,
                              parse_cfg_options, trained_checkpoint,
                              training_state)
from csdet.utils.runner_setup import (UserInputError, init_weights_quietly,
                                      load_config)

TOOLS = Path(__file__).resolve().parent
METRIC_KEYS = {  # column -> key in test_metrics.json (see csdet metrics)
    'mAP50': 'coco/bbox_mAP_50',
    'mAP': 'coco/bbox_mAP',
    'F1': 'f1/f1',  # macro F1 at the evaluator's score_thr (0.25)
    'cost x1e3': 'cost_det/cost_x1e3',  # paper Eq. 16, the README's unit
    'decision cost/img': 'decision/cost_per_image',
}
COLUMNS = ['config', 'detector', 'CS', 'params (M)', 'input px', 'epochs',
           'batch',
           *METRIC_KEYS, 'cost vs plain',
           'train img/s', 'train img/s source', 'infer ms/img', 'status']
DIGITS = {'params (M)': 2, 'mAP50': 3, 'mAP': 3, 'F1': 3, 'cost x1e3': 2,
          'decision cost/img': 3, 'train img/s': 1, 'infer ms/img': 1}
TWIN_COLUMNS = ('detector', 'params (M)', 'input px', 'epochs', 'batch')
DETECTOR_NAMES = {'YOLOv5': 'YOLOv5', 'FasterRCNN': 'Faster R-CNN'}


@dataclass
class Job:
    config: str
    stem: str
    out_dir: Path  # test work dir, logs
    run_path: Path  # train work dir, or a given checkpoint file


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', metavar='CONFIG')
    parser.add_argument('--work-dir', default='work_dirs/compare')
    parser.add_argument('--runs', nargs='+', default=[], metavar='CONFIG=PATH',
                        help='existing work dir or .pth of a config (CONFIG: '
                        'its path or stem)')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='k=v overrides, passed to train, test and the '
                        'model built for params and speed')
    parser.add_argument('--skip-train', action='store_true',
                        help='never train; configs without a checkpoint fail')
    parser.add_argument('--no-bench', action='store_true',
                        help='no speed measurement (log figures still used)')
    parser.add_argument('--bench-iters', type=int, default=10)
    parser.add_argument('--out-name', default='table')
    parser.add_argument('--train-cmd', default=shlex.join(
        [sys.executable, str(TOOLS / 'train.py')]))
    parser.add_argument('--test-cmd', default=shlex.join(
        [sys.executable, str(TOOLS / 'test.py')]))
    return parser.parse_args(argv)


def plan_jobs(configs: list[str], runs: list[str], work_dir: Path) -> list:
    """One Job per config; refuse missing files and ambiguous names early."""
    stems = [Path(config).stem for config in configs]
    for config in configs:
        if not Path(config).is_file():
            raise UserInputError(f'config file not found: {config}. Check '
                                 'the path (configs/ lists the shipped ones).')
    if len(set(stems)) < len(stems):
        raise UserInputError('two configs share a file name; their work dirs '
                             f'would collide: {stems}')
    given = {}
    for item in runs:
        key, sep, path = item.partition('=')
        matches = [s for c, s in zip(configs, stems) if key in (c, s)]
        if not sep or not matches:
            raise UserInputError(f'--runs {item}: expected CONFIG=PATH with '
                                 f'CONFIG one of the configs or stems {stems}')
        if not Path(path).exists():
            raise UserInputError(f'--runs {item}: {path} does not exist. Give '
                                 'an existing work dir or .pth file, or drop '
                                 'the entry to train into the compare dir.')
        given[matches[0]] = Path(path)
    return [Job(config, stem, work_dir / stem,
                given.get(stem, work_dir / stem))
            for config, stem in zip(configs, stems)]


def train_and_test(job: Job, args: argparse.Namespace,
                   commands: ToolCommands, progress: tqdm) -> dict:
    """Test metrics of a job (training / testing only what is missing).

    Raises:
        JobFailed: no checkpoint, or a tool failed (the row's status).
    """
    checkpoint = find_checkpoint(job.run_path)
    if args.skip_train or job.run_path.is_file():
        if checkpoint is None:
            raise JobFailed(f'no checkpoint in {job.run_path}' +
                            (' (--skip-train)' if args.skip_train else ''))
    else:
        state = training_state(job.run_path, job.config, args.cfg_options)
        if not state.finished:
            progress.set_postfix_str(f'{job.stem}: training')
            with failing_as('train'):
                checkpoint = trained_checkpoint(commands.run_train(
                    job.config, job.run_path, args.cfg_options,
                    job.out_dir / 'compare_train.log', resume=state.resume),
                    job.run_path)
    metrics_file = job.out_dir / METRICS_FILE
    if (metrics_file.is_file() and
            metrics_file.stat().st_mtime > checkpoint.stat().st_mtime):
        return json.loads(metrics_file.read_text())
    progress.set_postfix_str(f'{job.stem}: testing')
    with failing_as('test'):
        return commands.run_test(job.config, checkpoint, job.out_dir,
                                 args.cfg_options,
                                 job.out_dir / 'compare_test.log')[0]


@contextlib.contextmanager
def failing_as(stage: str) -> Iterator[None]:
    """Re-raise a tool's JobFailed as the row's status, e.g. 'train
    failed: training exited with code 1, log: <path>'."""
    try:
        yield
    except JobFailed as error:
        raise JobFailed(f'{stage} failed: {error}, log: {error.log_path}',
                        error.log_path) from None


def detector_name(cfg: Config) -> str:
    model_type = cfg.model['type'].split('.')[-1]
    head_type = str(cfg.model.get('bbox_head', {}).get('type', ''))
    if 'SSD' in head_type:  # mmdet's SSD is a SingleStageDetector
        anchors = cfg.model['bbox_head'].get('anchor_generator', {})
        return f"SSD{anchors.get('input_size', '')}"
    return DETECTOR_NAMES.get(model_type, model_type)


def is_cost_sensitive(node) -> bool:
    """True if a CostSensitiveLoss sits anywhere in a (model) config."""
    if isinstance(node, dict):
        if str(node.get('type', '')).split('.')[-1] == 'CostSensitiveLoss':
            return True
        node = list(node.values())
    return isinstance(node, (list, tuple)) and any(map(is_cost_sensitive,
                                                       node))


def logged_batch_size(vis_dir: Path, default: int) -> int:
    """The batch size a logged run trained with: mmengine dumps the run's
    config (--cfg-options included) beside its scalars."""
    dumped = vis_dir / 'config.py'
    if not dumped.is_file():
        return default
    return int(Config.fromfile(dumped).train_dataloader['batch_size'])


def logged_training(train_dir: Path,
                    batch_size: int) -> tuple[float | None, list[int]]:
    """Median of batch size / iteration time over the training logs, and
    the batch sizes those runs used (batch_size where not recorded)."""
    rates, batch_sizes = [], set()
    for scalars in train_dir.glob('*/vis_data/scalars.json'):
        run_batch = logged_batch_size(scalars.parent, batch_size)
        for line in scalars.read_text().splitlines():
            record = json.loads(line) if line.strip() else {}
            if 'loss' in record and record.get('time'):  # train iterations
                rates.append(run_batch / record['time'])
                batch_sizes.add(run_batch)
    return (statistics.median(rates) if rates else None), sorted(batch_sizes)


def describe(job: Job, args: argparse.Namespace, metrics: dict,
             failure: str | None) -> dict:
    """The table row of one job (model facts, test metrics, speed)."""
    cfg = load_config(job.config, parse_cfg_options(args.cfg_options))
    model = MODELS.build(cfg.model)
    batch_size = cfg.train_dataloader['batch_size']
    run_dir = job.run_path if job.run_path.is_dir() else job.run_path.parent
    train_rate, logged_batches = logged_training(run_dir, batch_size)
    row = {'config': job.config, 'detector': detector_name(cfg),
           'CS': is_cost_sensitive(cfg.model),
           'params (M)': count_parameters(model) / 1e6,
           'input px': input_size(cfg),
           'epochs': cfg.train_cfg.get('max_epochs'),  # None: iteration-based
           'batch': '/'.join(map(str, logged_batches or [batch_size])),
           'train img/s': train_rate,
           'train img/s source': None if train_rate is None else 'log',
           'status': failure or 'ok'}
    for column, key in METRIC_KEYS.items():
        row[column] = metrics.get(key)
    if args.no_bench or failure:
        return row
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    checkpoint = find_checkpoint(job.run_path)
    images = None  # untrained: the synthetic batch
    if checkpoint is None:
        init_weights_quietly(model)
    else:  # trained weights: NMS cost depends on how many boxes survive,
        # so time them on the test images (just tested, so they load)
        load_checkpoint(model, str(checkpoint), map_location='cpu',
                        logger='silent')
        images = load_test_images(cfg, args.bench_iters)
    model.to(device)
    timings = benchmark_model(
        model, batch_size, input_size(cfg), len(cfg.get('classes', ())) or 6,
        iters=args.bench_iters, warmup=2, device=device,
        train=train_rate is None, batch_inference=False, images=images)
    row['infer ms/img'] = timings['infer_one'].median * 1e3
    if train_rate is None:
        row['train img/s'] = batch_size / timings['train_step'].median
        row['train img/s source'] = 'bench'
    return row


def twin_key(row: dict) -> tuple:
    """What a plain row and its cost-sensitive twin have in common."""
    return tuple(row.get(column) for column in TWIN_COLUMNS)


def plain_twins(rows: list[dict]) -> list[tuple[dict, dict]]:
    """(plain row, cost-sensitive row) pairs, both with a tested cost."""
    plain = {twin_key(row): row for row in rows
             if row.get('CS') is False and row.get('cost x1e3') is not None}
    return [(plain[twin_key(row)], row) for row in rows
            if row.get('CS') is True and row.get('cost x1e3') is not None
            and twin_key(row) in plain]


def add_cost_change(rows: list[dict]) -> None:
    """Fill 'cost vs plain' (a fraction, -0.62 = 62% lower) in CS rows."""
    for plain, cost_sensitive in plain_twins(rows):
        if plain['cost x1e3'] > 0:
            cost_sensitive['cost vs plain'] = (
                cost_sensitive['cost x1e3'] / plain['cost x1e3'] - 1)


def plot_tradeoff(rows: list[dict], path: Path) -> Path | None:
    """mAP@0.5 against cost, one point per tested config; None if none."""
    points = [row for row in rows if row.get('mAP50') is not None
              and row.get('cost x1e3') is not None]
    if not points:
        return None
    from matplotlib.figure import Figure  # no pyplot: no global state
    figure = Figure(figsize=(6.4, 4.8))
    axes = figure.add_subplot()
    colors = {}
    for row in points:
        color = colors.setdefault(twin_key(row), f'C{len(colors) % 10}')
        axes.scatter(row['cost x1e3'], row['mAP50'], s=60,
                     marker='o' if row['CS'] else 's', edgecolors=color,
                     facecolors=color if row['CS'] else 'none',
                     label=Path(row['config']).stem)
    for plain, cost_sensitive in plain_twins(points):
        axes.annotate('', xy=(cost_sensitive['cost x1e3'],
                              cost_sensitive['mAP50']),
                      xytext=(plain['cost x1e3'], plain['mAP50']),
                      arrowprops=dict(arrowstyle='->',
                                      color=colors[twin_key(plain)]))
    axes.set_xlabel('cost x 1e-3 (paper Eq. 16), lower is better')
    axes.set_ylabel('mAP@0.5 (COCO), higher is better')
    axes.set_title('plain (hollow square) -> cost-sensitive (filled dot)')
    axes.grid(alpha=0.3)
    axes.legend(fontsize='small')
    figure.savefig(path, dpi=120, bbox_inches='tight')
    return path


def shown(column: str, value) -> str:
    if value is None:
        return '-'
    if column == 'cost vs plain':
        return f'{value:+.0%}'
    if isinstance(value, float) and column in DIGITS:
        return f'{value:.{DIGITS[column]}f}'
    return str(value).replace('|', '\\|')  # a bare | would split the cell


def markdown(rows: list[dict], command: str) -> str:
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    lines = [
        f'{datetime.datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} CPUs, '
        f'{torch.get_num_threads()} torch threads, device {device}: '
        f'`{command}`', '', '| ' + ' | '.join(COLUMNS) + ' |',
        '|' + '---|' * len(COLUMNS)
    ]
    lines += ['| ' + ' | '.join(shown(c, row.get(c)) for c in COLUMNS) + ' |'
              for row in rows]
    lines += ['', 'train img/s source: log = median of batch size / iteration'
              ' time in the training log (data loading included); bench = '
              'timed training step on a synthetic batch (model compute only).'
              ' infer ms/img: batch 1, trained weights on test images, median,'
              ' NMS included, model compute only. cost x1e3: paper'
              ' Eq. 16; cost vs plain: relative to the plain row with the'
              ' same detector, params, input px, epochs and batch; F1: macro'
              ' F1 at the evaluator score threshold. batch: the training'
              ' batch size, as logged by the run where it has logs.']
    return '\n'.join(lines) + '\n'


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, 'w', newline='') as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work_dir = Path(args.work_dir)
    try:
        jobs = plan_jobs(args.configs, args.runs, work_dir)
        parse_cfg_options(args.cfg_options)
    except UserInputError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    commands = ToolCommands.from_strings(TOOLS, args.train_cmd,
                                         args.test_cmd)
    rows, tails = [], {}
    progress = tqdm(jobs, desc='compare', unit='config')
    for job in progress:
        metrics, failure = {}, None
        try:
            metrics = train_and_test(job, args, commands, progress)
        except JobFailed as error:
            failure, tails[job.config] = str(error), error.log_tail()
        except UserInputError as error:  # a config that does not load
            failure = str(error)
        progress.set_postfix_str(f'{job.stem}: measuring')
        try:
            rows.append(describe(job, args, metrics, failure))
        except Exception as exc:  # a broken config must not stop the others
            rows.append({'config': job.config, 'status': failure or
                         f'model/benchmark failed: {type(exc).__name__}: '
                         f'{exc}'})
    add_cost_change(rows)
    command = shlex.join(['python', 'tools/compare.py', *(
        sys.argv[1:] if argv is None else argv)])
    table = markdown(rows, command)
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / f'{args.out_name}.md').write_text(table)
    write_csv(rows, work_dir / f'{args.out_name}.csv')
    plot = plot_tradeoff(rows, work_dir / f'{args.out_name}.png')
    print(table)
    if plot is not None:
        print(f'plot: {plot}')
    failed = [row for row in rows if row['status'] != 'ok']
    for row in failed:
        print(f"FAILED {row['config']}: {row['status']}", file=sys.stderr)
        if tails.get(row['config']):
            print('  | ' + tails[row['config']].replace('\n', '\n  | '),
                  file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
