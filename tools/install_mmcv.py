"""Build (once) and install mmcv 2.1.0 with its compiled ops.

Why this script exists: mmdet 3.3.0 needs mmcv < 2.2 with compiled ops
(nms, RoIAlign, ...), and mmcv 2.1.0 is published only as a source
distribution. As shipped it does not build against PyTorch >= 2.10: its
setup.py forces ``-std=c++17`` while the ATen headers need C++20. This script

1. fetches the sdist through pip (``pip download --no-binary``),
2. patches the C++ standard to the one the installed torch needs,
3. builds a wheel against the installed torch (CUDA ops when a GPU and a CUDA
   toolkit are present or ``FORCE_CUDA=1``, CPU ops otherwise),
4. caches the wheel outside the repo, keyed by mmcv/torch/CUDA/Python
   version, so the next install takes seconds,
5. installs it and checks that ``mmcv.ops.nms`` and ``mmcv.ops.RoIAlign`` run.

On failure it prints the failing step, the compiler's error lines (not the
whole log) and what to try. Run it with the Python of the target environment:

    .venv/bin/python tools/install_mmcv.py [--version 2.1.0] [--cache-dir DIR]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from pathlib import Path

DEFAULT_VERSION = '2.1.0'
DEFAULT_CACHE = Path(
    os.environ.get('CSDET_CACHE',
                   Path(os.environ.get('XDG_CACHE_HOME', Path.home() / '.cache'))
                   / 'csdet')) / 'wheels'


class InstallError(RuntimeError):
    """A step failed; the message says which one and what to do."""


def torch_build_info() -> dict:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - setup order error
        raise InstallError(
            'torch is not installed in this Python '
            f'({sys.executable}). Install it first: pip install '
            'torch==2.14.1 torchvision==0.29.1') from exc
    cuda_toolkit = shutil.which('nvcc') is not None or bool(
        os.environ.get('CUDA_HOME'))
    with_cuda = os.environ.get('FORCE_CUDA') == '1' or (
        torch.cuda.is_available() and cuda_toolkit)
    major, minor = (int(v) for v in torch.__version__.split('.')[:2])
    # PyTorch >= 2.10 headers refuse to compile below C++20.
    cxx_std = 'c++20' if (major, minor) >= (2, 10) else 'c++17'
    return dict(
        torch=torch.__version__.split('+')[0],
        cuda=(torch.version.cuda or 'none') if with_cuda else 'cpu',
        with_cuda=with_cuda,
        cxx_std=cxx_std,
        python=f'cp{sys.version_info.major}{sys.version_info.minor}')


def cache_key(version: str, info: dict) -> str:
    cuda = 'cpu' if not info['with_cuda'] else f"cu{info['cuda']}"
    return f"mmcv{version}-torch{info['torch']}-{cuda}-{info['python']}"


def run(cmd: list[str], log_path: Path, env: dict | None = None,
        cwd: Path | None = None) -> None:
    """Run a command with its output going to a log file only."""
    with open(log_path, 'a') as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=cwd)
    if result.returncode != 0:
        raise InstallError(
            f"command failed (exit {result.returncode}): {' '.join(cmd)}\n"
            + summarize_log(log_path))


def summarize_log(log_path: Path, max_lines: int = 25) -> str:
    """The error lines of a build log, not the whole log."""
    lines = log_path.read_text(errors='replace').splitlines()
    pattern = re.compile(r'(error|Error|ERROR|fatal|No such file)')
    errors = [line for line in lines if pattern.search(line)]
    shown = (errors or lines)[-max_lines:]
    return ('--- relevant lines of ' + str(log_path) + ' ---\n' +
            '\n'.join(shown))


def fetch_sdist(version: str, workdir: Path, log_path: Path) -> Path:
    run([sys.executable, '-m', 'pip', 'download', '--no-deps',
         '--no-binary', 'mmcv', '--no-build-isolation', '-d', str(workdir),
         f'mmcv=={version}'], log_path)
    archives = sorted(workdir.glob('mmcv-*.tar.gz'))
    if not archives:
        raise InstallError(f'pip download left no mmcv sdist in {workdir}')
    return archives[0]


def patch_cxx_standard(setup_py: Path, cxx_std: str) -> int:
    """Replace every forced C++ standard flag; returns how many were changed."""
    text = setup_py.read_text()
    patched, count = re.subn(r'-std=c\+\+\d+', f'-std={cxx_std}', text)
    setup_py.write_text(patched)
    return count


def build_wheel(version: str, info: dict, out_dir: Path,
                log_path: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix='csdet-mmcv-') as tmp:
        tmp_path = Path(tmp)
        print(f'[install_mmcv] fetching mmcv=={version} sdist through pip')
        sdist = fetch_sdist(version, tmp_path, log_path)
        with tarfile.open(sdist) as archive:
            archive.extractall(tmp_path, filter='data')
        src = next(p for p in tmp_path.iterdir()
                   if p.is_dir() and p.name.startswith('mmcv-'))
        changed = patch_cxx_standard(src / 'setup.py', info['cxx_std'])
        print(f"[install_mmcv] set -std={info['cxx_std']} in setup.py "
              f'({changed} flags)')
        env = dict(os.environ, MMCV_WITH_OPS='1',
                   MAX_JOBS=os.environ.get('MAX_JOBS', str(os.cpu_count())))
        env['FORCE_CUDA'] = '1' if info['with_cuda'] else '0'
        kind = 'CUDA and CPU' if info['with_cuda'] else 'CPU'
        print(f'[install_mmcv] compiling {kind} ops with {env["MAX_JOBS"]} '
              'jobs (about 8 minutes on 2 CPU cores for the CPU ops); '
              f'log: {log_path}')
        run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
             '--no-build-isolation', '-w', str(tmp_path / 'dist'), str(src)],
            log_path, env=env)
        wheels = list((tmp_path / 'dist').glob('mmcv-*.whl'))
        if not wheels:
            raise InstallError(f'the build produced no wheel; see {log_path}')
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / wheels[0].name
        shutil.move(str(wheels[0]), target)
        return target


def verify_ops() -> None:
    """Run nms and RoIAlign once; raises InstallError when they do not."""
    code = textwrap.dedent("""
        import torch
        from mmcv.ops import RoIAlign, nms
        boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                              [20., 20., 30., 30.]])
        scores = torch.tensor([0.9, 0.8, 0.7])
        _, keep = nms(boxes, scores, iou_threshold=0.5)
        assert keep.tolist() == [0, 2], keep
        feats = torch.arange(64.).reshape(1, 1, 8, 8)
        rois = torch.tensor([[0., 0., 0., 4., 4.]])
        out = RoIAlign((2, 2), spatial_scale=1.0, sampling_ratio=2)(feats, rois)
        assert out.shape == (1, 1, 2, 2), out.shape
        print('mmcv ops ok: nms keep', keep.tolist(),
              'RoIAlign', tuple(out.shape))
    """)
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True, text=True)
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ['no output'])[-1]
        raise InstallError(
            f'mmcv is installed but its compiled ops do not run:\n{last_line}')
    print('[install_mmcv] ' + result.stdout.strip())


def installed_mmcv_ok(version: str) -> bool:
    code = ('import mmcv, mmcv.ops; import sys; '
            f"sys.exit(0 if mmcv.__version__ == '{version}' else 1)")
    return subprocess.run([sys.executable, '-c', code],
                          capture_output=True).returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--version', default=DEFAULT_VERSION)
    parser.add_argument('--cache-dir', type=Path, default=DEFAULT_CACHE)
    parser.add_argument('--rebuild', action='store_true',
                        help='ignore a cached wheel and build again')
    args = parser.parse_args()
    try:
        if not args.rebuild and installed_mmcv_ok(args.version):
            print(f'[install_mmcv] mmcv {args.version} with ops is already '
                  'installed')
            verify_ops()
            return 0
        info = torch_build_info()
        key_dir = args.cache_dir / cache_key(args.version, info)
        cached = sorted(key_dir.glob('mmcv-*.whl'))
        log_path = args.cache_dir / f'{key_dir.name}.build.log'
        args.cache_dir.mkdir(parents=True, exist_ok=True)
        if cached and not args.rebuild:
            wheel = cached[0]
            print(f'[install_mmcv] using cached wheel {wheel}')
        else:
            log_path.write_text('')
            wheel = build_wheel(args.version, info, key_dir, log_path)
            print(f'[install_mmcv] built and cached {wheel}')
        run([sys.executable, '-m', 'pip', 'install', '--no-deps',
             '--force-reinstall', str(wheel)], log_path)
        verify_ops()
    except InstallError as exc:
        print(f'[install_mmcv] FAILED: {exc}', file=sys.stderr)
        print(textwrap.dedent("""
            What to try:
            - a compiler error about the C++ standard: check that g++ >= 10
              is on PATH (g++ --version) and rerun with --rebuild;
            - 'pkg_resources' missing: pip install 'setuptools>=77.0.3,<81';
            - pip could not download: check that PyPI is reachable;
            - CUDA errors: unset FORCE_CUDA to build the CPU ops only, or set
              CUDA_HOME to the toolkit that matches torch.version.cuda.
            """), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
