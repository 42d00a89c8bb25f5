"""Slurm job arrays: one array task per run id, then a report job.

No scheduler of our own: Slurm runs the array; each task calls
``sweep.py <experiment> ... --run-id $SLURM_ARRAY_TASK_ID``, which is
resumable and idempotent like a local sweep, so a requeued or repeated task
only finishes what is missing. Slurm sets CUDA_VISIBLE_DEVICES for the task.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from .experiments import Plan


@dataclass
class SlurmOptions:
    partition: Optional[str] = None
    gpus_per_job: int = 1
    cpus_per_task: int = 4
    time: str = '24:00:00'
    mem: Optional[str] = None
    max_parallel: Optional[int] = None  # array throttle (%N)
    account: Optional[str] = None
    extra: Sequence[str] = ()  # more '#SBATCH' arguments, e.g. --qos=high


def _header(job_name: str, log_pattern: str, options: SlurmOptions,
            gpus: int) -> List[str]:
    lines = ['#!/usr/bin/env bash', f'#SBATCH --job-name={job_name}',
             f'#SBATCH --output={log_pattern}',
             f'#SBATCH --cpus-per-task={options.cpus_per_task}',
             f'#SBATCH --time={options.time}']
    if options.partition:
        lines.append(f'#SBATCH --partition={options.partition}')
    if options.account:
        lines.append(f'#SBATCH --account={options.account}')
    if options.mem:
        lines.append(f'#SBATCH --mem={options.mem}')
    if gpus > 0:
        lines.append(f'#SBATCH --gres=gpu:{gpus}')
    lines += [f'#SBATCH {item}' for item in options.extra]
    return lines


def write_scripts(plan: Plan, sweep_dir: Path, sweep_command: Sequence[str],
                  options: SlurmOptions, cwd: Path) -> Tuple[Path, Path]:
    """Write ``<sweep>/slurm/<experiment>_array.sbatch`` (one task per run)
    and ``<experiment>_report.sbatch`` (tables and plots afterwards).

    ``sweep_command``: the sweep.py command line with every planning option
    (without --run-id); the tasks append ``--run-id``.
    """
    if not plan.runs:
        raise ValueError('the plan has no runs')
    folder = Path(sweep_dir) / 'slurm'
    (folder / 'logs').mkdir(parents=True, exist_ok=True)
    name = f'csy5-{plan.experiment}'
    array = f'0-{len(plan.runs) - 1}'
    if options.max_parallel:
        array += f'%{options.max_parallel}'
    command = shlex.join(list(sweep_command))
    run_list = [f'#   {run.run_id}: {run.name}' for run in plan.runs]
    array_lines = _header(name, str(folder / 'logs' / '%x-%A_%a.out'),
                          options, options.gpus_per_job)
    array_lines += [
        f'#SBATCH --array={array}', '',
        f'# {len(plan.runs)} runs of experiment {plan.experiment} '
        f'(profile {plan.profile}); task id = run id:', *run_list,
        'set -euo pipefail', f'cd {shlex.quote(str(cwd))}',
        f'exec {command} --run-id "$SLURM_ARRAY_TASK_ID" --no-progress', ''
    ]
    report_lines = _header(f'{name}-report',
                           str(folder / 'logs' / '%x-%j.out'),
                           SlurmOptions(**{**options.__dict__,
                                           'time': '00:30:00'}), 0)
    report_lines += [
        '', 'set -euo pipefail', f'cd {shlex.quote(str(cwd))}',
        f'exec {command} --report-only', ''
    ]
    array_path = folder / f'{plan.experiment}_array.sbatch'
    report_path = folder / f'{plan.experiment}_report.sbatch'
    array_path.write_text('\n'.join(array_lines))
    report_path.write_text('\n'.join(report_lines))
    return array_path, report_path


def submit(array_path: Path, report_path: Path) -> Tuple[str, str]:
    """sbatch the array, then the report job after it (afterany: the report
    lists failed runs too). Returns the two job ids."""
    if shutil.which('sbatch') is None:
        raise RuntimeError('sbatch not found: submit the written scripts on '
                           f'a Slurm login node: sbatch {array_path}')

    def sbatch(*args: str) -> str:
        result = subprocess.run(['sbatch', '--parsable', *args],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f'sbatch {" ".join(args)} failed: '
                               f'{result.stderr.strip()}')
        return result.stdout.strip().split(';')[0]

    array_id = sbatch(str(array_path))
    report_id = sbatch(f'--dependency=afterany:{array_id}', str(report_path))
    return array_id, report_id
