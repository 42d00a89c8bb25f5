"""tools/export.py end to end: a YOLOv5n checkpoint to an ONNX file; a
Faster R-CNN config refused with the reason; bad arguments."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from csdet.deploy.onnx_export import build_detector
from csdet.deploy.onnx_runtime import OnnxDetector, read_metadata
from csdet.utils.runner_setup import load_config

REPO = Path(__file__).resolve().parents[2]
TOOL = str(REPO / 'tools' / 'export.py')


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *map(str, args)],
                          capture_output=True, text=True, cwd=REPO,
                          timeout=600)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A checkpoint of YOLOv5n (initial weights) as the trainer saves it."""
    cfg = load_config(str(REPO / 'configs' / 'yolov5_neu_quick.py'))
    torch.manual_seed(0)
    model = build_detector(cfg)
    path = tmp_path_factory.mktemp('ckpt') / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), path)
    return model, path


def test_export_yolov5_checkpoint(checkpoint, tmp_path):
    model, path = checkpoint
    out = tmp_path / 'sub' / 'yolov5n.onnx'
    completed = run_tool('configs/yolov5_neu_quick.py', path, '--format',
                         'onnx', '--out', out, '--dynamic-batch',
                         '--img-size', 192)
    assert completed.returncode == 0, completed.stderr
    assert f'wrote {out}' in completed.stdout
    assert 'images: batch x 3 x 192 x 192 float32' in completed.stdout
    assert [p.name for p in out.parent.iterdir()] == ['yolov5n.onnx']
    meta = read_metadata(str(out))
    assert meta['input_size'] == [192, 192]
    assert meta['dynamic_axes'] == ['batch']
    assert meta['checkpoint'] == 'epoch_1.pth'
    # a size other than the pipeline's 224: a plain letterbox to 192
    assert meta['resize'] == dict(type='LetterBox', scale=[192, 192],
                                  pad_to='full', pad_val=114.0,
                                  interpolation='auto', allow_scale_up=True)
    inputs = torch.rand(3, 3, 192, 192,
                        generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model.bbox_head(model.extract_feat(inputs))[0]
    actual = OnnxDetector(str(out)).forward(inputs.numpy())
    for ort_out, torch_out in zip(actual, expected):
        np.testing.assert_allclose(ort_out, torch_out.numpy(), rtol=0,
                                   atol=1e-4)


def test_faster_rcnn_is_refused_with_the_reason(checkpoint, tmp_path):
    out = tmp_path / 'model.onnx'
    completed = run_tool('configs/cs_faster-rcnn_r50_fpn_neu_quick.py',
                         checkpoint[1], '--out', out)
    assert completed.returncode == 1
    assert re.search("\nerror: cannot export FasterRCNN to ONNX: .*mmcv's NMS",
                     '\n' + completed.stderr)
    assert not out.exists()


@pytest.mark.parametrize('args,message', [
    (['--out', 'model.pt'], '--out must end with .onnx'),
    (['--out', 'model.onnx', '--img-size', '100'],
     'multiple of the largest stride 32'),
])
def test_bad_arguments(checkpoint, tmp_path, args, message):
    args = [str(tmp_path / a) if a.startswith('model') else a for a in args]
    completed = run_tool('configs/yolov5_neu_quick.py', checkpoint[1], *args)
    assert completed.returncode != 0
    assert message in completed.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_checkpoint(tmp_path):
    completed = run_tool('configs/yolov5_neu_quick.py',
                         tmp_path / 'none.pth', '--out',
                         tmp_path / 'model.onnx')
    assert completed.returncode == 1
    assert 'checkpoint not found' in completed.stderr


def test_checkpoint_of_another_model_is_refused(checkpoint, tmp_path):
    completed = run_tool('configs/yolov5_neu.py', checkpoint[1], '--out',
                         tmp_path / 'model.onnx')
    assert completed.returncode == 1
    assert 'does not fit the model of the config' in completed.stderr
    assert list(tmp_path.iterdir()) == []
