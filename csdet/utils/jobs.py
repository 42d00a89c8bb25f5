"""Run tools/train.py and tools/test.py as logged subprocesses.

The job runner of tools/compare.py and projects/cs_yolov5's sweep. A
training is skipped when its work dir holds the final checkpoint of the
schedule, resumed (``--resume``) when it holds an earlier one, and started
fresh otherwise; a test is run on a checkpoint or work dir and yields its
``test_metrics.json``. Each tool's output is appended to a log file, and a
failure is raised as :class:`JobFailed` naming that log.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from mmengine.config import DictAction

from csdet.utils.checkpoint import find_checkpoint
from csdet.utils.runner_setup import UserInputError, load_config

LOG_TAIL_LINES = 25
METRICS_FILE = 'test_metrics.json'  # written by tools/test.py


class JobFailed(RuntimeError):
    """A job step failed; ``log_path`` (None: no tool ran) has the output."""

    def __init__(self, message: str, log_path: Path | None = None):
        super().__init__(message)
        self.log_path = log_path

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return '' if self.log_path is None else log_tail(self.log_path, lines)


def log_tail(path: str | Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log ('' when it cannot be read)."""
    try:
        text = Path(path).read_text(errors='replace')
    except OSError:
        return ''
    return '\n'.join(text.rstrip().splitlines()[-lines:])


def exit_reason(returncode: int) -> str:
    """'exited with code N', or 'was killed by signal N' (negative N)."""
    if returncode < 0:
        return f'was killed by signal {-returncode}'
    return f'exited with code {returncode}'


def parse_cfg_options(items: Sequence[str]) -> dict:
    """``['k=v', ...]`` parsed as the tools' ``--cfg-options`` parse them
    (mmengine's DictAction).

    Raises:
        UserInputError: an item without '='.
    """
    for item in items:
        if '=' not in item:
            raise UserInputError(f'--cfg-options {item}: expected key=value')
    if not items:
        return {}
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--options', nargs='+', action=DictAction)
    return dict(parser.parse_args(['--options', *items]).options)


@dataclass(frozen=True)
class ToolRun:
    """One finished tool subprocess."""
    returncode: int
    seconds: float
    log_path: Path

    def check(self, what: str) -> None:
        """Raise JobFailed ('<what> exited with code N') unless it exited 0."""
        if self.returncode != 0:
            raise JobFailed(f'{what} {exit_reason(self.returncode)}',
                            self.log_path)


@dataclass
class ToolCommands:
    """Command prefixes of the train and test tools (tests inject fakes)
    and the directory they run in (None: the current one)."""
    train: list[str]
    test: list[str]
    cwd: Path | None = field(default=None)

    @classmethod
    def from_strings(cls, tools_dir: Path, train: str | None = None,
                     test: str | None = None,
                     cwd: Path | None = None) -> ToolCommands:
        """``python <tools_dir>/train.py`` (test.py), or the shell-style
        command lines given instead."""
        def command(given: str | None, script: str) -> list[str]:
            return (shlex.split(given) if given else
                    [sys.executable, str(Path(tools_dir) / script)])

        return cls(command(train, 'train.py'), command(test, 'test.py'), cwd)

    def train_command(self, config: str, work_dir: str | Path,
                      cfg_options: Sequence[str] = (),
                      resume: bool = False) -> list[str]:
        """``train CONFIG --work-dir D [--resume] [--cfg-options k=v ..]``."""
        return [*self.train, config, '--work-dir', str(work_dir),
                *(['--resume'] if resume else []),
                *(['--cfg-options', *cfg_options] if cfg_options else [])]

    def test_command(self, config: str, checkpoint: str | Path,
                     work_dir: str | Path,
                     cfg_options: Sequence[str] = ()) -> list[str]:
        """``test CONFIG CKPT_OR_DIR --work-dir D [--cfg-options k=v ..]``."""
        return [*self.test, config, str(checkpoint), '--work-dir',
                str(work_dir),
                *(['--cfg-options', *cfg_options] if cfg_options else [])]

    def run(self, command: list[str], log_path: Path,
            env: Mapping[str, str] | None = None,
            pass_fds: Sequence[int] = ()) -> ToolRun:
        """Run ``command``, appending a header line, its stdout and stderr,
        and its exit code to ``log_path``. ``pass_fds`` stay open in the
        child (e.g. a lock that must outlive this process)."""
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, 'a') as log:
            log.write(f'\n=== {time.strftime("%Y-%m-%d %H:%M:%S")} $ '
                      f'{shlex.join(command)}\n')
            log.flush()
            start = time.monotonic()
            returncode = subprocess.run(
                command, cwd=self.cwd, env=env, stdout=log,
                stderr=subprocess.STDOUT, pass_fds=tuple(pass_fds)).returncode
            seconds = time.monotonic() - start
            log.write(f'=== exit code {returncode} after {seconds:.1f} s\n')
        return ToolRun(returncode, seconds, log_path)

    def run_train(self, config: str, work_dir: Path,
                  cfg_options: Sequence[str], log_path: Path,
                  resume: bool = False, **run_kwargs) -> ToolRun:
        """Run the train tool (``run_kwargs``: env, pass_fds of :meth:`run`);
        check the result with :func:`trained_checkpoint`."""
        return self.run(
            self.train_command(config, work_dir, cfg_options, resume),
            log_path, **run_kwargs)

    def run_test(self, config: str, checkpoint: str | Path, work_dir: Path,
                 cfg_options: Sequence[str], log_path: Path,
                 what: str = 'test', **run_kwargs) -> tuple[dict, ToolRun]:
        """Test ``checkpoint`` (a file or a training work dir) into
        ``work_dir``; its metrics and the tool run. An older metrics file
        is deleted first, so a failed test never leaves stale numbers.

        Raises:
            JobFailed: the tool failed or wrote no readable metrics.
        """
        metrics_path = Path(work_dir) / METRICS_FILE
        metrics_path.unlink(missing_ok=True)
        tool_run = self.run(
            self.test_command(config, checkpoint, work_dir, cfg_options),
            log_path, **run_kwargs)
        tool_run.check(what)
        try:
            return json.loads(metrics_path.read_text()), tool_run
        except (OSError, ValueError):
            raise JobFailed(f'{what} exited 0 but {metrics_path} is missing '
                            'or not JSON', log_path) from None


def trained_checkpoint(tool_run: ToolRun, work_dir: Path) -> Path:
    """The checkpoint a finished training left in ``work_dir``.

    Raises:
        JobFailed: the training failed or wrote no checkpoint.
    """
    tool_run.check('training')
    checkpoint = find_checkpoint(work_dir)
    if checkpoint is None:
        raise JobFailed(f'training exited 0 but wrote no checkpoint in '
                        f'{work_dir}', tool_run.log_path)
    return checkpoint


def checkpoint_is_final(checkpoint: Path, config: str,
                        cfg_options: Sequence[str] = ()) -> bool:
    """False when ``checkpoint`` is mmengine's ``epoch_N.pth`` /
    ``iter_N.pth`` with N short of the config's ``max_epochs`` /
    ``max_iters`` (after ``cfg_options``); any other name is final."""
    match = re.fullmatch(r'(epoch|iter)_(\d+)\.pth', Path(checkpoint).name)
    if match is None:
        return True
    train_cfg = load_config(config, parse_cfg_options(cfg_options)).train_cfg
    total = train_cfg.get('max_epochs' if match[1] == 'epoch' else
                          'max_iters')
    return total is None or int(match[2]) >= total


@dataclass(frozen=True)
class TrainingState:
    """What a training work dir holds: no checkpoint (start fresh), an
    unfinished one (resume) or the schedule's final one (finished)."""
    checkpoint: Path | None
    finished: bool

    @property
    def resume(self) -> bool:
        return self.checkpoint is not None and not self.finished


def training_state(work_dir: Path, config: str,
                   cfg_options: Sequence[str] = ()) -> TrainingState:
    """Where the training of ``config`` into ``work_dir`` stands; the config
    is read only when a checkpoint is there.

    Raises:
        UserInputError: the config cannot be loaded.
    """
    checkpoint = find_checkpoint(work_dir)
    return TrainingState(checkpoint, checkpoint is not None and
                         checkpoint_is_final(checkpoint, config, cfg_options))
