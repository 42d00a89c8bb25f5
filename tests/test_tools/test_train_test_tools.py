"""tools/train.py, tools/test.py and tools/dist_train.sh end to end.

A tiny YOLOv5n on a synthetic COCO set (csdet.testing.synthetic) trains,
resumes from its checkpoint, is evaluated by tools/test.py, and trains with
2-process DDP on the CPU (gloo). Small images keep each run to seconds.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from csdet.testing.synthetic import make_synthetic_coco

REPO = Path(__file__).resolve().parents[2]

CONFIG_TEMPLATE = """
_base_ = [
    '{repo}/configs/_base_/models/yolov5n.py',
    '{repo}/configs/_base_/datasets/defect_coco.py',
    '{repo}/configs/_base_/default_runtime.py',
]
data_root = '{data_root}/'
classes = {classes!r}
img_size = 64
cost = dict(positive_classes={positives!r}, group='a')
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = loader
val_dataloader = loader
test_dataloader = loader
val_evaluator = [dict(type='CocoMetric', metric='bbox'),
                 dict(type='CostMetric')]
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.001, momentum=0.9))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs={epochs},
                 val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, save_best=None))
"""


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny')
    classes = ('crazing', 'inclusion', 'patches')
    paths = make_synthetic_coco(root / 'data', num_images=8, image_size=64,
                                classes=classes, seed=1)

    def write(epochs: int) -> Path:
        config = root / f'tiny_yolov5n_{epochs}e.py'
        config.write_text(CONFIG_TEMPLATE.format(
            repo=REPO, data_root=paths['root'], classes=classes,
            positives=['patches'], epochs=epochs))
        return config

    return write


def run_tool(args, cwd=REPO, env_extra=None, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS='1', **(env_extra or {}))
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_train_resume_and_test(tiny_config, tmp_path):
    work_dir = tmp_path / 'work'
    run_tool(['tools/train.py', str(tiny_config(1)), '--work-dir',
              str(work_dir)])
    assert (work_dir / 'epoch_1.pth').is_file()

    # Resume continues from epoch 1 instead of starting over.
    result = run_tool(['tools/train.py', str(tiny_config(2)), '--work-dir',
                       str(work_dir), '--resume'])
    assert 'resumed epoch: 1' in result.stdout + result.stderr
    checkpoint = torch.load(work_dir / 'epoch_2.pth')
    assert checkpoint['meta']['epoch'] == 2

    # tools/test.py accepts the work dir and writes the metrics it prints.
    test_dir = tmp_path / 'test'
    result = run_tool(['tools/test.py', str(tiny_config(2)), str(work_dir),
                       '--work-dir', str(test_dir), '--out',
                       str(tmp_path / 'preds.pkl')])
    metrics = json.loads((test_dir / 'test_metrics.json').read_text())
    assert 0.0 <= metrics['coco/bbox_mAP_50'] <= 1.0
    assert 'cost_det/cost' in metrics
    assert 'coco/bbox_mAP_50' in result.stdout
    assert (tmp_path / 'preds.pkl').stat().st_size > 0


def test_tools_report_missing_inputs(tiny_config, tmp_path):
    missing = subprocess.run(
        [sys.executable, 'tools/test.py', str(tiny_config(1)),
         str(tmp_path / 'absent.pth')], cwd=REPO, capture_output=True,
        text=True)
    assert missing.returncode == 2
    assert 'checkpoint not found' in missing.stderr

    no_data = subprocess.run(
        [sys.executable, 'tools/train.py', str(tiny_config(1)),
         '--cfg-options', f'data_root={tmp_path}/'],
        cwd=REPO, capture_output=True, text=True)
    assert no_data.returncode == 2
    assert 'annotation file not found' in no_data.stderr
    assert 'neu_det.py' in no_data.stderr


def test_two_process_ddp_on_cpu(tiny_config, tmp_path):
    work_dir = tmp_path / 'ddp'
    env = dict(os.environ, OMP_NUM_THREADS='1', PORT='29611',
               PYTHON=sys.executable)
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', str(tiny_config(1)), '2',
         '--work-dir', str(work_dir)], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log
    # 6 training images, batch 2 per process: 3 iterations an epoch alone,
    # 2 when the DistributedSampler splits them over 2 processes.
    assert 'Epoch(train) [1][2/2]' in log
    assert (work_dir / 'epoch_1.pth').is_file()
