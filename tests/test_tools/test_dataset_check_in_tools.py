"""tools/train.py and tools/test.py check the dataset before the Runner.

A corrupt image stops both tools before any training or testing, with
every bad file and the fix; ``--skip-bad`` trains and tests on the rest
with a DefectDataset and is refused for a plain CocoDataset.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from csdet.testing.synthetic import make_synthetic_coco

REPO = Path(__file__).resolve().parents[2]

CONFIG = """
_base_ = [
    '{repo}/configs/_base_/models/yolov5n.py',
    '{repo}/configs/_base_/default_runtime.py',
]
root = '{data_root}/'
pipeline = [
    dict(type='LoadImageFromFile', color_type='color'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs'),
]
# The metrics read the kept images' boxes ('instances') under --skip-bad.
test_pipeline = pipeline[:3] + [dict(
    type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape',
                                     'img_shape', 'scale_factor',
                                     'instances'))]
dataset = dict(type='{dataset_type}', data_root=root,
               data_prefix=dict(img='images/'),
               metainfo=dict(classes={classes!r}))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, ann_file='annotations/train.json',
                 pipeline=pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, ann_file='annotations/test.json',
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', metric='bbox',
                     ann_file=root + 'annotations/test.json')
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
model = dict(bbox_head=dict(num_classes={num_classes}, imgsz=64))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.001, momentum=0.9))
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=100)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, save_best=None))
"""


@pytest.fixture
def corrupt_set(tmp_path):
    """Synthetic set with one train and one test image overwritten by
    bytes that are not an image; returns (write_config, their paths)."""
    classes = ('crazing', 'inclusion')
    paths = make_synthetic_coco(tmp_path / 'data', num_images=8,
                                image_size=64, classes=classes, seed=4)
    bad = [Path(paths['images']) / 'synthetic_0001.png',
           Path(paths['images']) / 'synthetic_0007.png']  # train, test
    for path in bad:
        path.write_bytes(b'not an image')

    def write(dataset_type: str) -> Path:
        config = tmp_path / f'tiny_{dataset_type}.py'
        config.write_text(CONFIG.format(
            repo=REPO, data_root=paths['root'], classes=classes,
            num_classes=len(classes), dataset_type=dataset_type))
        return config

    return write, bad


def run(args, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1',
               XDG_CACHE_HOME=str(tmp_path / 'cache'))
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_train_and_test_stop_on_a_corrupt_image(corrupt_set, tmp_path):
    write, bad = corrupt_set
    config = write('CocoDataset')
    result = run(['tools/train.py', str(config), '--work-dir',
                  str(tmp_path / 'work')], tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f'{bad[0]}: does not decode as an image' in result.stderr
    assert f'{bad[1]}: does not decode as an image' in result.stderr  # val
    assert '--skip-bad' in result.stderr
    assert not (tmp_path / 'work' / 'epoch_1.pth').exists()

    checkpoint = tmp_path / 'unused.pth'
    checkpoint.write_bytes(b'')
    result = run(['tools/test.py', str(config), str(checkpoint)], tmp_path)
    assert result.returncode == 2
    assert f'{bad[1]}: does not decode as an image' in result.stderr
    assert str(bad[0]) not in result.stderr  # the train split is not tested

    refused = run(['tools/train.py', str(config), '--skip-bad'], tmp_path)
    assert refused.returncode == 2
    assert 'train dataset is CocoDataset' in refused.stderr


def test_skip_bad_trains_on_the_other_images(corrupt_set, tmp_path):
    write, bad = corrupt_set
    work_dir = tmp_path / 'work'
    result = run(['tools/train.py', str(write('DefectDataset')),
                  '--work-dir', str(work_dir), '--skip-bad'], tmp_path)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'train: leaving out 1 of 6 images' in log
    # 5 of 6 training images at batch 2: 3 iterations.
    assert 'Epoch(train) [1][3/3]' in log
    assert (work_dir / 'epoch_1.pth').is_file()

    # Testing on the other test image; mAP from the kept image's boxes.
    result = run(['tools/test.py', str(write('DefectDataset')),
                  str(work_dir), '--work-dir', str(tmp_path / 'test'),
                  '--skip-bad'], tmp_path)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert 'test: leaving out 1 of 2 images' in log
    assert 'CocoMetric evaluates the kept images' in log
    assert (tmp_path / 'test' / 'test_metrics.json').is_file()
