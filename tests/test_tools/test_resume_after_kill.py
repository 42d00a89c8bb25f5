"""A training killed mid-epoch (SIGKILL) resumes with --resume.

tools/train.py trains a tiny YOLOv5n on the synthetic set for 3 epochs of
9 iterations, saving a checkpoint every epoch. The test waits until epoch
1's checkpoint exists and epoch 2 has logged its first iteration, kills the
process group, then runs ``tools/train.py --resume``: it must resume from
epoch 1's checkpoint, redo epoch 2 from its start and end at epoch 3.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from csdet.testing.synthetic import make_synthetic_coco

REPO = Path(__file__).resolve().parents[2]
ITERS_PER_EPOCH = 9  # 18 training images, batch 2

CONFIG = """
_base_ = [
    '{repo}/configs/_base_/models/yolov5n.py',
    '{repo}/configs/_base_/default_runtime.py',
]
root = '{data_root}/'
classes = {classes!r}
pipeline = [
    dict(type='LoadImageFromFile', color_type='color'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs'),
]
dataset = dict(type='CocoDataset', data_root=root,
               data_prefix=dict(img='images/'),
               metainfo=dict(classes=classes), pipeline=pipeline)
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**dataset, ann_file='annotations/train.json',
                 filter_cfg=dict(filter_empty_gt=False)))
# Validation is set up but never due (val_interval > max_epochs).
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, ann_file='annotations/test.json',
                 test_mode=True))
val_evaluator = dict(type='CocoMetric', metric='bbox',
                     ann_file=root + 'annotations/test.json')
val_cfg = dict(type='ValLoop')
model = dict(bbox_head=dict(num_classes={num_classes}, imgsz=64))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.001, momentum=0.9))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3,
                 val_interval=100)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, save_best=None))
"""


def tool_env(tmp_path):
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
                XDG_CACHE_HOME=str(tmp_path / 'cache'))


def run_log(work_dir: Path) -> str:
    """Text of the run's log file (work_dir/<timestamp>/<timestamp>.log)."""
    logs = sorted(work_dir.glob('*/*.log'))
    return logs[-1].read_text() if logs else ''


def train_until_epoch_2_started(config, work_dir, tmp_path, timeout=240):
    """Start tools/train.py, kill its process group once epoch 2 runs."""
    process = subprocess.Popen(
        [sys.executable, 'tools/train.py', str(config), '--work-dir',
         str(work_dir)], cwd=REPO, env=tool_env(tmp_path),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if ((work_dir / 'epoch_1.pth').is_file()
                    and 'Epoch(train) [2][' in run_log(work_dir)):
                os.killpg(process.pid, signal.SIGKILL)
                break
            if process.poll() is not None:
                raise AssertionError('training ended before it was killed:\n'
                                     + process.stderr.read()[-3000:])
            time.sleep(0.05)
        else:
            raise AssertionError('epoch 2 did not start in time:\n'
                                 + run_log(work_dir)[-3000:])
    finally:
        if process.poll() is None and time.monotonic() >= deadline:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        process.stderr.close()
    return process.returncode


def test_killed_training_resumes_to_the_final_epoch(tmp_path):
    classes = ('crazing', 'inclusion', 'patches')
    paths = make_synthetic_coco(tmp_path / 'data', num_images=24,
                                image_size=64, classes=classes, seed=2)
    config = tmp_path / 'tiny_yolov5n_3e.py'
    config.write_text(CONFIG.format(repo=REPO, data_root=paths['root'],
                                    classes=classes,
                                    num_classes=len(classes)))
    work_dir = tmp_path / 'work'

    returncode = train_until_epoch_2_started(config, work_dir, tmp_path)
    assert returncode == -signal.SIGKILL
    # Killed in the middle of epoch 2: its checkpoint was never written.
    assert not (work_dir / 'epoch_2.pth').exists()
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(
        work_dir / 'epoch_1.pth')

    resumed = subprocess.run(
        [sys.executable, 'tools/train.py', str(config), '--work-dir',
         str(work_dir), '--resume'], cwd=REPO, env=tool_env(tmp_path),
        capture_output=True, text=True, timeout=300)
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log[-3000:]
    assert f'resumed from the latest checkpoint {work_dir / "epoch_1.pth"}' \
        in log
    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in log
    # Epoch 2 is redone from its first iteration, then epoch 3 runs.
    assert f'Epoch(train) [2][1/{ITERS_PER_EPOCH}]' in log
    assert f'Epoch(train) [3][{ITERS_PER_EPOCH}/{ITERS_PER_EPOCH}]' in log
    assert 'Epoch(train) [1][' not in log
    assert (work_dir / 'last_checkpoint').read_text().strip() == str(
        work_dir / 'epoch_3.pth')
    meta = torch.load(work_dir / 'epoch_3.pth', map_location='cpu')['meta']
    assert (meta['epoch'], meta['iter']) == (3, 3 * ITERS_PER_EPOCH)
