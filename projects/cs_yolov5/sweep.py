"""Reproduce the CS-YOLOv5 paper's experiments (Tables 2-5, Figures 5-8).

    python projects/cs_yolov5/sweep.py risk-groups --profile quick
    python projects/cs_yolov5/sweep.py weight-ratio --workers 2
    python projects/cs_yolov5/sweep.py positive-classes --dry-run
    python projects/cs_yolov5/sweep.py batch-size --slurm --partition gpu \\
        --submit

Every run is an ordinary ``tools/train.py`` + ``tools/test.py`` call with
``--cfg-options`` (the cost setting as ``cost.*`` keys); its command lines
are in ``<run dir>/cmd.sh``. A finished run is never redone, a killed sweep
continues where it stopped and a failed run does not stop the others. See
projects/cs_yolov5/README.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cs_sweep import slurm  # noqa: E402
from cs_sweep.experiments import (  # noqa: E402
    DETECTORS, EXPERIMENTS, PAPER_BATCH_SIZES, PAPER_GROUPS,
    PAPER_POSITIVE_COUNTS, PAPER_RATIOS, PROFILES, REPO_ROOT, Plan,
    PlanOptions, parse_option_strings, plan_experiment, write_plan)
from cs_sweep.report import write_report  # noqa: E402
from cs_sweep.runner import (  # noqa: E402
    RunExecutor, ToolCommands, default_commands, detect_gpus, is_complete,
    run_sweep)
from csdet.utils.runner_setup import UserInputError  # noqa: E402

SCRIPT = Path(__file__).resolve()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('experiment', choices=EXPERIMENTS)
    plan = parser.add_argument_group('what to run')
    plan.add_argument('--profile', choices=sorted(PROFILES), default='paper',
                      help='paper: 90 epochs, batch 230 (GPU); quick: the '
                      '*_quick.py configs (CPU). Default: paper')
    plan.add_argument('--base-config', help='plain YOLOv5 config (default '
                      'configs/yolov5_neu.py); its CS twin is cs_<name> in '
                      'the same folder, the other detectors too')
    plan.add_argument('--cs-config', help='CS-YOLOv5 config (default: '
                      'cs_<base config name>)')
    plan.add_argument('--work-dir', help='sweep folder (default '
                      'work_dirs/cs_yolov5_sweep/<profile>); runs are shared '
                      'between experiments in one folder')
    plan.add_argument('--seeds', type=int, nargs='+', default=[0],
                      help='training seeds (randomness.seed); default 0')
    plan.add_argument('--groups', nargs='+', default=list(PAPER_GROUPS),
                      help='risk-groups: paper groups (default a b c d)')
    plan.add_argument('--positive-counts', type=int, nargs='+',
                      default=list(PAPER_POSITIVE_COUNTS),
                      help='positive-classes: numbers of positive classes')
    plan.add_argument('--repeats', type=int, default=3,
                      help='positive-classes: random picks per number '
                      '(default 3)')
    plan.add_argument('--pick-seed', type=int, default=0,
                      help='positive-classes: base seed of the random picks')
    plan.add_argument('--ratios', type=float, nargs='+',
                      default=list(PAPER_RATIOS),
                      help='weight-ratio: r values (default 0 0.25 .. 1.5)')
    plan.add_argument('--batch-sizes', type=int, nargs='+',
                      default=list(PAPER_BATCH_SIZES),
                      help='batch-size: values (default 64 128 230)')
    plan.add_argument('--detectors', nargs='+', default=list(DETECTORS),
                      choices=list(DETECTORS), help='detectors: which')
    plan.add_argument('--positive-classes', nargs='+',
                      help="fixed positive classes (default: the CS "
                      "config's cost.positive_classes, the paper's)")
    plan.add_argument('--eval-normalize', default='sum',
                      choices=('sum', 'max', 'none'),
                      help="cost-matrix normalisation of the evaluations "
                      "(default 'sum', the paper's units as csdet reads "
                      "them); training keeps the config's")
    plan.add_argument('--cfg-options', nargs='+', default=[],
                      metavar='KEY=VALUE', help='passed to every train and '
                      'test call and used when the configs are read, e.g. '
                      'data_root=/data/NEU-DET/; may not change what the '
                      'sweep sets (cost.group, cost.ratio, ...)')
    run = parser.add_argument_group('how to run')
    run.add_argument('--workers', type=int, default=1,
                     help='parallel runs on this machine (default 1)')
    run.add_argument('--gpus', help='comma-separated GPU ids handed out to '
                     'the workers (default: CUDA_VISIBLE_DEVICES or '
                     'nvidia-smi; none = CPU)')
    run.add_argument('--run-id', type=int, nargs='+',
                     help='run only these run ids (a Slurm array task)')
    run.add_argument('--dry-run', action='store_true',
                     help='print the runs and their commands, run nothing')
    run.add_argument('--report-only', action='store_true',
                     help='only (re)write results, tables and plots')
    run.add_argument('--no-report', action='store_true',
                     help='do not write the report after running')
    run.add_argument('--no-progress', action='store_true',
                     help='no progress bar')
    run.add_argument('--train-cmd', help='command that replaces "python '
                     'tools/train.py" (tests use a fake one)')
    run.add_argument('--test-cmd', help='command that replaces "python '
                     'tools/test.py"')
    cluster = parser.add_argument_group('Slurm')
    cluster.add_argument('--slurm', action='store_true',
                         help='write a job-array script (one task per run '
                         'id) and a report script instead of running')
    cluster.add_argument('--submit', action='store_true',
                         help='with --slurm: sbatch them too')
    cluster.add_argument('--partition')
    cluster.add_argument('--account')
    cluster.add_argument('--gpus-per-job', type=int, default=1)
    cluster.add_argument('--cpus-per-task', type=int, default=4)
    cluster.add_argument('--time', default='24:00:00',
                         help='per array task (default 24:00:00)')
    cluster.add_argument('--mem')
    cluster.add_argument('--max-parallel', type=int,
                         help='array throttle: at most N tasks at once')
    cluster.add_argument('--sbatch-arg', action='append', default=[],
                         help="extra '#SBATCH' argument, repeatable")
    return parser


def plan_options(args: argparse.Namespace) -> PlanOptions:
    return PlanOptions(
        profile=args.profile,
        base_config=args.base_config,
        cs_config=args.cs_config,
        seeds=args.seeds,
        groups=args.groups,
        positive_counts=args.positive_counts,
        repeats=args.repeats,
        pick_seed=args.pick_seed,
        ratios=args.ratios,
        batch_sizes=args.batch_sizes,
        detectors=args.detectors,
        positive_classes=args.positive_classes,
        eval_normalize=args.eval_normalize,
        extra_options=parse_option_strings(args.cfg_options))


def sweep_dir_of(args: argparse.Namespace) -> Path:
    if args.work_dir:
        return Path(args.work_dir).resolve()
    return REPO_ROOT / 'work_dirs' / 'cs_yolov5_sweep' / args.profile


def task_command(args: argparse.Namespace) -> List[str]:
    """This sweep's command line with every planning option spelled out
    (what a Slurm task runs, plus --run-id)."""
    command = [sys.executable, str(SCRIPT), args.experiment, '--profile',
               args.profile, '--work-dir', str(sweep_dir_of(args))]
    if args.base_config:
        command += ['--base-config', str(Path(args.base_config).resolve())]
    if args.cs_config:
        command += ['--cs-config', str(Path(args.cs_config).resolve())]
    command += ['--seeds', *map(str, args.seeds)]
    command += ['--groups', *args.groups]
    command += ['--positive-counts', *map(str, args.positive_counts)]
    command += ['--repeats', str(args.repeats), '--pick-seed',
                str(args.pick_seed)]
    command += ['--ratios', *(repr(float(r)) for r in args.ratios)]
    command += ['--batch-sizes', *map(str, args.batch_sizes)]
    command += ['--detectors', *args.detectors]
    if args.positive_classes:
        command += ['--positive-classes', *args.positive_classes]
    if args.cfg_options:
        command += ['--cfg-options', *args.cfg_options]
    if args.train_cmd:
        command += ['--train-cmd', args.train_cmd]
    if args.test_cmd:
        command += ['--test-cmd', args.test_cmd]
    return command


def print_plan(plan: Plan, sweep_dir: Path, commands: ToolCommands) -> None:
    import shlex
    executor = RunExecutor(sweep_dir, commands)
    print(f'{plan.experiment} ({plan.profile}): {len(plan.runs)} trainings, '
          f'{sum(len(r.evaluations) for r in plan.runs)} evaluations; '
          f'sweep dir {sweep_dir}')
    for run in plan.runs:
        state = 'done' if is_complete(sweep_dir, run) else 'to do'
        print(f'\n[{run.run_id}] {run.name} ({run.model}, seed {run.seed}) '
              f'- {state}')
        print('  ' + shlex.join(executor.train_command(run)))
        for evaluation in run.evaluations:
            print('  ' + shlex.join(executor.test_command(run, evaluation)))


def report_failures(statuses) -> int:
    failed = [s for s in statuses if s.status == 'failed']
    busy = [s for s in statuses if s.status == 'busy']
    done = sum(s.status == 'done' for s in statuses)
    print(f'\n{done} done, {len(failed)} failed, {len(busy)} busy '
          f'(of {len(statuses)} runs)')
    for status in busy:
        print(f'  busy: [{status.run_id}] {status.name} (another process '
              'holds it; rerun later)')
    for status in failed:
        print(f'\nFAILED [{status.run_id}] {status.name}: {status.message}')
        if status.log_tail:
            print('  | ' + status.log_tail.replace('\n', '\n  | '))
    return 1 if failed else 0


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.submit and not args.slurm:
        print('error: --submit needs --slurm', file=sys.stderr)
        return 2
    sweep_dir = sweep_dir_of(args)
    commands = default_commands(args.train_cmd, args.test_cmd)
    try:
        plan = plan_experiment(args.experiment, plan_options(args))
    except (ValueError, FileNotFoundError, UserInputError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    if args.dry_run:
        print_plan(plan, sweep_dir, commands)
        return 0
    write_plan(plan, sweep_dir / plan.experiment / 'plan.json')
    if args.slurm:
        array_path, report_path = slurm.write_scripts(
            plan, sweep_dir, task_command(args),
            slurm.SlurmOptions(
                partition=args.partition, gpus_per_job=args.gpus_per_job,
                cpus_per_task=args.cpus_per_task, time=args.time,
                mem=args.mem, max_parallel=args.max_parallel,
                account=args.account, extra=args.sbatch_arg),
            commands.cwd)
        print(f'wrote {array_path}\n      {report_path}')
        if args.submit:
            array_id, report_id = slurm.submit(array_path, report_path)
            print(f'submitted array job {array_id}, report job {report_id}')
        else:
            print(f'submit with: sbatch {array_path}')
        return 0
    if args.report_only:
        folder = write_report(plan, sweep_dir)
        print(f'report: {folder}')
        return 0
    # a Slurm task keeps the GPUs Slurm gave it; locally hand them out
    gpus = None if args.run_id is not None else (
        [g for g in args.gpus.split(',') if g.strip()]
        if args.gpus is not None else detect_gpus())
    statuses = run_sweep(plan, sweep_dir, commands, workers=args.workers,
                         gpus=gpus, run_ids=args.run_id,
                         progress=not args.no_progress)
    if args.run_id is None and not args.no_report:
        folder = write_report(plan, sweep_dir)
        print(f'report: {folder}/tables.md')
    return report_failures(statuses)


if __name__ == '__main__':
    sys.exit(main())
