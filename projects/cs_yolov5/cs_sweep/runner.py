"""Execution: each Run is tools/train.py + tools/test.py subprocesses.

Layout of one run (``<sweep dir>/runs/<run name>/``)::

    cmd.sh               every command of the run, to repeat it by hand
    commands.json        the same commands (merged across experiments)
    status.json          running | done | failed (+ error and log tail)
    train_spec.json      config + training options (checked on reuse)
    train/               tools/train.py --work-dir (checkpoints,
                         last_checkpoint, <timestamp>/vis_data/...)
    train.log            stdout + stderr of every training attempt
    train_done.json      marker: training finished (+ wall time)
    eval/<name>/         tools/test.py --work-dir (test_metrics.json)
    eval/<name>/eval_done.json   marker: evaluation finished (+ metrics)
    eval_<name>.log

The tools run through :mod:`csdet.utils.jobs` (the job runner of
tools/compare.py too). Resume and idempotence: a training with
``train_done.json`` is not repeated; one without it is skipped when its
work dir holds the schedule's final checkpoint, restarted with ``--resume``
when it holds an earlier one (mmengine continues from it), started fresh
otherwise; an evaluation with ``eval_done.json`` is not repeated. A run
directory is locked (``flock``) while a process works on it, and the lock
is inherited by the tool subprocess, so a second sweep (another experiment
sharing the run, or a restart while an orphaned training still runs) skips
it as ``busy``.
"""
from __future__ import annotations

import fcntl
import json
import os
import shlex
import subprocess
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from queue import Queue
from typing import Callable, Dict, List, Optional, Sequence

from csdet.utils.atomic import atomic_write
from csdet.utils.jobs import (JobFailed, ToolCommands, log_tail,
                              trained_checkpoint, training_state)

from .experiments import REPO_ROOT, Evaluation, Plan, Run, options_to_args


def default_commands(train: Optional[str] = None,
                     test: Optional[str] = None) -> ToolCommands:
    """The repository's tools/train.py and tools/test.py, run from the
    repository root; ``train`` / ``test`` replace them (shell-style)."""
    return ToolCommands.from_strings(REPO_ROOT / 'tools', train, test,
                                     cwd=REPO_ROOT)


@dataclass
class RunStatus:
    run_id: int
    name: str
    status: str  # done | failed | busy
    message: str = ''
    log_tail: str = ''
    seconds: float = 0.0


def run_dir(sweep_dir: Path, run: Run) -> Path:
    return Path(sweep_dir) / 'runs' / run.name


def eval_dir(sweep_dir: Path, run: Run, evaluation: Evaluation) -> Path:
    return run_dir(sweep_dir, run) / 'eval' / evaluation.name


def read_json(path: Path) -> Optional[dict]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, payload: dict) -> None:
    """Write atomically, so a kill never leaves half a marker file."""
    with atomic_write(path) as file:
        file.write(json.dumps(payload, indent=2))


def is_complete(sweep_dir: Path, run: Run) -> bool:
    """Training and every planned evaluation are finished."""
    base = run_dir(sweep_dir, run)
    return (base / 'train_done.json').is_file() and all(
        (eval_dir(sweep_dir, run, e) / 'eval_done.json').is_file()
        for e in run.evaluations)


class RunExecutor:
    """Executes one Run inside its directory (see the module docstring)."""

    def __init__(self, sweep_dir: Path, commands: ToolCommands):
        self.sweep_dir = Path(sweep_dir)
        self.commands = commands

    # commands -----------------------------------------------------------
    def train_command(self, run: Run) -> List[str]:
        return self.commands.train_command(
            run.config, run_dir(self.sweep_dir, run) / 'train',
            options_to_args(run.train_options))

    def test_command(self, run: Run, evaluation: Evaluation) -> List[str]:
        return self.commands.test_command(
            run.config, run_dir(self.sweep_dir, run) / 'train',
            eval_dir(self.sweep_dir, run, evaluation),
            options_to_args(evaluation.options))

    def write_commands(self, run: Run) -> None:
        """commands.json (merged with earlier experiments' evaluations of a
        shared run) and cmd.sh rendered from it."""
        base = run_dir(self.sweep_dir, run)
        stored = read_json(base / 'commands.json') or {}
        evals = dict(stored.get('evaluations', {}))
        for evaluation in run.evaluations:
            evals[evaluation.name] = self.test_command(run, evaluation)
        payload = dict(train=self.train_command(run), evaluations=evals)
        write_json(base / 'commands.json', payload)
        lines = [
            '#!/usr/bin/env bash',
            f'# Run {run.name} ({run.model}, seed {run.seed}), written by '
            'projects/cs_yolov5/sweep.py.',
            '# Repeats the run by hand. A killed training continues with '
            '--resume added to the train line.',
            'set -euo pipefail',
            f'cd {shlex.quote(str(self.commands.cwd))}',
            '', '# train', shlex.join(payload['train'])
        ]
        for name, command in sorted(evals.items()):
            lines += ['', f'# evaluate: {name}', shlex.join(command)]
        script = base / 'cmd.sh'
        script.write_text('\n'.join(lines) + '\n')
        script.chmod(0o755)

    # execution ----------------------------------------------------------
    def check_spec(self, path: Path, spec: dict, what: str) -> None:
        """Refuse to reuse a directory made with different options."""
        stored = read_json(path)
        if stored is None:
            write_json(path, spec)
        elif stored != json.loads(json.dumps(spec)):
            raise JobFailed(
                f'{path.parent} holds a {what} made with different options '
                f'({path.name} differs from this plan). Use another '
                '--work-dir, or delete that directory to redo it.')

    def train(self, run: Run, env: Dict[str, str], lock_fd: int) -> None:
        base = run_dir(self.sweep_dir, run)
        if (base / 'train_done.json').is_file():
            return
        options = options_to_args(run.train_options)
        self.check_spec(base / 'train_spec.json',
                        dict(config=run.config, options=options), 'training')
        progress = read_json(base / 'train_progress.json') or {'attempts': []}
        state = training_state(base / 'train', run.config, options)
        if not state.finished:
            # the child inherits the lock: an orphaned training keeps its
            # run directory locked even if this sweep is killed
            tool_run = self.commands.run_train(
                run.config, base / 'train', options, base / 'train.log',
                resume=state.resume, env=env, pass_fds=(lock_fd, ))
            progress['attempts'].append(
                dict(resumed=state.resume, returncode=tool_run.returncode,
                     seconds=tool_run.seconds))
            write_json(base / 'train_progress.json', progress)
            trained_checkpoint(tool_run, base / 'train')
        write_json(
            base / 'train_done.json',
            dict(seconds=sum(a['seconds'] for a in progress['attempts']),
                 attempts=progress['attempts']))

    def evaluate(self, run: Run, evaluation: Evaluation, env: Dict[str, str],
                 lock_fd: int) -> None:
        folder = eval_dir(self.sweep_dir, run, evaluation)
        if (folder / 'eval_done.json').is_file():
            return
        folder.mkdir(parents=True, exist_ok=True)
        options = options_to_args(evaluation.options)
        self.check_spec(folder / 'eval_spec.json',
                        dict(config=run.config, options=options),
                        'evaluation')
        metrics, tool_run = self.commands.run_test(
            run.config, run_dir(self.sweep_dir, run) / 'train', folder,
            options, run_dir(self.sweep_dir, run) /
            f'eval_{evaluation.name}.log', f'evaluation {evaluation.name}',
            env=env, pass_fds=(lock_fd, ))
        write_json(folder / 'eval_done.json',
                   dict(metrics=metrics, seconds=tool_run.seconds))

    def execute(self, run: Run, env: Dict[str, str]) -> RunStatus:
        base = run_dir(self.sweep_dir, run)
        base.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        with open(base / '.lock', 'w') as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return RunStatus(run.run_id, run.name, 'busy',
                                 'another process holds this run directory')
            self.write_commands(run)
            write_json(base / 'status.json',
                       dict(status='running', pid=os.getpid(),
                            started=time.time()))
            try:
                self.train(run, env, lock.fileno())
                for evaluation in run.evaluations:
                    self.evaluate(run, evaluation, env, lock.fileno())
            except Exception as error:  # noqa: BLE001 (isolate the run)
                log_path = getattr(error, 'log_path', None)
                tail = (log_tail(log_path) if log_path else
                        traceback.format_exc(limit=5))
                status = RunStatus(run.run_id, run.name, 'failed',
                                   str(error), tail,
                                   time.monotonic() - start)
                write_json(base / 'status.json',
                           dict(status='failed', error=str(error),
                                log=str(log_path) if log_path else None,
                                log_tail=tail))
                return status
            write_json(base / 'status.json', dict(status='done'))
            return RunStatus(run.run_id, run.name, 'done',
                             seconds=time.monotonic() - start)


# ---------------------------------------------------------------------------
# parallel sweep
def detect_gpus() -> List[str]:
    """GPU ids for the workers: CUDA_VISIBLE_DEVICES, else nvidia-smi
    (torch is not imported: the sweep itself stays light)."""
    visible = os.environ.get('CUDA_VISIBLE_DEVICES')
    if visible is not None:
        return [gpu for gpu in visible.split(',') if gpu.strip()]
    try:
        listing = subprocess.run(['nvidia-smi', '-L'], capture_output=True,
                                 text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(index) for index, line in
            enumerate(listing.stdout.splitlines()) if line.startswith('GPU')]


def worker_env(slot: int, workers: int, gpus: Sequence[str]) -> Dict[str, str]:
    """Environment of worker ``slot``: its GPU, or its share of the CPU
    threads when there is no GPU (unless the user set them)."""
    env = dict(os.environ)
    if gpus:
        env['CUDA_VISIBLE_DEVICES'] = gpus[slot % len(gpus)]
    elif workers > 1:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for name in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
            env.setdefault(name, threads)
    return env


def run_sweep(plan: Plan,
              sweep_dir: Path,
              commands: Optional[ToolCommands] = None,
              workers: int = 1,
              gpus: Optional[Sequence[str]] = None,
              run_ids: Optional[Sequence[int]] = None,
              progress: bool = True,
              on_status: Optional[Callable[[RunStatus], None]] = None
              ) -> List[RunStatus]:
    """Run the plan's unfinished runs on ``workers`` parallel workers.

    ``gpus``: ids handed out round-robin to the worker slots as
    CUDA_VISIBLE_DEVICES; None = keep the environment as it is (a Slurm
    task). Finished runs are reported as done without running anything.
    A failed run is reported and the others continue.
    """
    from tqdm import tqdm

    sweep_dir = Path(sweep_dir)
    commands = commands or default_commands()
    executor = RunExecutor(sweep_dir, commands)
    runs = plan.runs
    if run_ids is not None:
        unknown = [i for i in run_ids if not 0 <= i < len(plan.runs)]
        if unknown:
            raise ValueError(f'run ids {unknown} outside 0..'
                             f'{len(plan.runs) - 1}')
        runs = [plan.runs[i] for i in run_ids]
    statuses: Dict[int, RunStatus] = {}
    pending = []
    for run in runs:
        if is_complete(sweep_dir, run):
            statuses[run.run_id] = RunStatus(run.run_id, run.name, 'done',
                                             'already finished')
        else:
            pending.append(run)
    workers = max(1, min(workers, len(pending) or 1))
    slots: Queue = Queue()
    for slot in range(workers):
        slots.put(slot)
    lock = threading.Lock()
    bar = tqdm(total=len(runs), initial=len(runs) - len(pending),
               desc=plan.experiment, unit='run', disable=not progress,
               dynamic_ncols=True)

    def work(run: Run) -> RunStatus:
        slot = slots.get()
        if progress:
            bar.write(f'start [{run.run_id}] {run.name} (log: '
                      f'{run_dir(sweep_dir, run)}/*.log)')
        try:
            env = (dict(os.environ) if gpus is None else
                   worker_env(slot, workers, gpus))
            return executor.execute(run, env)
        except Exception as error:  # noqa: BLE001
            return RunStatus(run.run_id, run.name, 'failed', str(error),
                             traceback.format_exc(limit=5))
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(work, run): run for run in pending}
        for future in as_completed(futures):
            status = future.result()
            with lock:
                statuses[status.run_id] = status
                failed = sum(s.status == 'failed' for s in statuses.values())
                bar.set_postfix(failed=failed, refresh=False)
                bar.update(1)
                if progress:
                    bar.write(f'{status.status} [{status.run_id}] '
                              f'{status.name}'
                              + (f': {status.message}'
                                 if status.status != 'done' else ''))
                if on_status:
                    on_status(status)
    bar.close()
    return [statuses[run.run_id] for run in runs]
