"""tools/test.py tests a Conv+BN-fused copy of a YOLOv5 model (with the
config's EMA hook in place) and gets the unfused model's metrics."""
import json
import os
import subprocess
import sys

import pytest


def run_test_tool(repo_root, quick_checkpoint, work_dir, *options):
    settings = [f'{key}={value}'
                for key, value in quick_checkpoint['options'].items()]
    result = subprocess.run(
        [sys.executable, 'tools/test.py', quick_checkpoint['config'],
         quick_checkpoint['checkpoint'], '--work-dir', str(work_dir),
         '--cfg-options', *settings, *options],
        cwd=repo_root, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((work_dir / 'test_metrics.json').read_text())
    return result.stdout + result.stderr, metrics


def test_fused_and_unfused_runs_give_the_same_metrics(
        repo_root, quick_checkpoint, tmp_path):
    log_on, fused = run_test_tool(repo_root, quick_checkpoint,
                                  tmp_path / 'on')
    log_off, unfused = run_test_tool(repo_root, quick_checkpoint,
                                     tmp_path / 'off',
                                     'model.test_cfg.fuse_conv_bn=False')
    assert 'FuseConvBNHook: testing with BatchNorm folded' in log_on
    assert 'testing with BatchNorm folded' not in log_off
    assert fused.keys() == unfused.keys()
    numbers = [key for key, value in unfused.items()
               if isinstance(value, (int, float))]
    assert sum(unfused[key] == unfused[key] for key in numbers) >= 5
    for key in numbers:
        assert fused[key] == pytest.approx(unfused[key], abs=1e-6,
                                           nan_ok=True), key
