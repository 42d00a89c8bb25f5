"""tools/model_converters/yolov5_to_csdet.py against the real Ultralytics
YOLOv5 reference (PyPI ``yolov5`` 7.0.14, see conftest.py).

Reference models are built from the package's bundled yaml files (no hub, no
weights) with fixed seeds: random BN affine parameters, BN running
statistics measured on random images and then perturbed (so that eval-mode
normalisation matters), anchors moved off the yaml's (as AutoAnchor does),
and head weights / biases set so that NMS has hundreds of candidates
without saturated sigmoids. Checkpoints are saved as Ultralytics' train.py
does; the csdet model is built from configs/_base_/models.
"""
import copy
import os
import pickle
import subprocess
import sys
import zipfile
from datetime import datetime

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from csdet.models.dense_heads.yolov5_head import YOLOV5_ANCHORS
from csdet.models.utils import (ReferenceNotInstalledError, YOLOv5LayoutError,
                                convert_state_dict, import_yolov5_reference,
                                map_name)
from csdet.models.utils import ultralytics_reference
from tool_loader import load_tool

INPUT_SHAPE = (192, 256)  # H, W: multiples of 32, not square
# The reference's val.py NMS setting: (conf, iou, multi_label, max_det).
VAL_NMS = (0.001, 0.6, True, 300)
# detect.py's IoU and single label, at the conf that leaves DETECT_BOXES
# candidates, so that nothing is truncated. Not more: the reference offsets
# boxes by class * 7680 px before NMS, which costs float32 precision (0.06
# px at class 79) and flips IoU comparisons that are within ~1e-3 of the
# threshold; among thousands of overlapping random boxes some are.
DETECT_IOU, DETECT_BOXES = 0.45, 250


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


@pytest.fixture(scope='module')
def tool():
    return load_tool('model_converters/yolov5_to_csdet.py')


def build_reference(reference, size, num_classes, seed=0):
    """A randomised reference DetectionModel (float32, eval)."""
    torch.manual_seed(seed)
    model = reference.yolo.Model(
        str(reference.root / 'models' / f'yolov5{size}.yaml'),
        nc=num_classes)
    generator = torch.Generator().manual_seed(seed + 1)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in norms:
            bn.weight.copy_(torch.rand(bn.weight.shape, generator=generator)
                            + 0.5)
            bn.bias.copy_(torch.randn(bn.bias.shape, generator=generator)
                          * 0.2)
            bn.reset_running_stats()
            bn.momentum = None  # running stats = this batch's statistics
        model.train()
        model(torch.rand(4, 3, 128, 160, generator=generator))
        model.eval()
        for bn in norms:
            bn.momentum = 0.03
            std = bn.running_var.sqrt()
            bn.running_mean.add_(torch.randn(
                std.shape, generator=generator) * 0.05 * std)
            bn.running_var.mul_(torch.rand(
                std.shape, generator=generator) * 0.2 + 0.9)
        detect = model.model[-1]
        # Anchors as AutoAnchor leaves them: no longer the yaml's.
        detect.anchors.mul_(torch.rand(detect.anchors.shape,
                                       generator=generator) * 0.45 + 0.8)
        for conv in detect.m:
            conv.weight.mul_(0.3)
            bias = conv.bias.view(detect.na, -1)
            noise = torch.rand(bias.shape, generator=generator)
            bias[:, :4] = noise[:, :4] - 0.5   # xywh
            bias[:, 4:] = noise[:, 4:] * 3 - 2  # objectness, classes
    return model


def save_like_ultralytics(path, model, ema=None, pickle_module=pickle):
    """The dict train.py v7.0 saves (models deep-copied and halved)."""
    ema = model if ema is None else ema
    checkpoint = {
        'epoch': 3,
        'best_fitness': 0.1,
        'model': copy.deepcopy(model).half(),
        'ema': copy.deepcopy(ema).half(),
        'updates': 120,
        'optimizer': torch.optim.SGD(model.parameters(), lr=0.01).state_dict(),
        'opt': {'imgsz': 640, 'epochs': 300, 'weights': 'yolov5s.pt'},
        'git': {'remote': None, 'branch': None, 'commit': None},
        'date': datetime(2023, 1, 1).isoformat()}
    torch.save(checkpoint, path, pickle_module=pickle_module)


class _GitHubNamesPickler(pickle._Pickler):
    """Names ``yolov5.models.X`` classes ``models.X``, as a checkpoint
    written from a clone of the GitHub repository does."""

    def save_global(self, obj, name=None):
        module = getattr(obj, '__module__', None) or ''
        if module.startswith('yolov5.'):
            name = name or obj.__qualname__
            module = module[len('yolov5.'):]
            self.write(pickle.GLOBAL + f'{module}\n{name}\n'.encode())
            self.memoize(obj)
            return
        super().save_global(obj, name)


class _GitHubPickleModule:
    __name__ = 'github_names_pickle'
    Pickler = _GitHubNamesPickler


def build_csdet(repo_root, size, num_classes):
    cfg = Config.fromfile(
        str(repo_root / 'configs' / '_base_' / 'models' / f'yolov5{size}.py'))
    cfg.model.bbox_head.num_classes = num_classes
    return MODELS.build(cfg.model).eval()


def as_reference_maps(pred_maps, num_classes):
    """csdet (N, na*(5+nc), H, W) -> reference (N, na, H, W, 5+nc)."""
    return [m.view(m.shape[0], 3, 5 + num_classes, *m.shape[2:])
            .permute(0, 1, 3, 4, 2) for m in pred_maps]


def conf_between_candidates(decoded, count, gap=1e-5):
    """A conf threshold leaving about ``count`` single-label candidates.

    It lies midway between two consecutive best-class scores that are at
    least ``gap`` apart: the two implementations' sigmoids may differ in the
    last bit, so a threshold equal to a score would split them.
    """
    best = (decoded[:, 4:5] * decoded[:, 5:]).max(1).values.double()
    ranked = best.sort(descending=True).values
    for index in range(count, len(ranked) - 1):
        if ranked[index - 1] - ranked[index] >= gap:
            return float(ranked[index - 1] + ranked[index]) / 2
    raise AssertionError('no gap in the candidate scores')


def canonical_order(bboxes, scores, labels):
    """Detections sorted by score (descending), then label, x1, y1.

    Among hundreds of thousands of obj x cls products some are exactly
    equal, and the two NMS implementations may list equal scores in either
    order; this order does not depend on that.
    """
    order = np.lexsort((bboxes[:, 1].numpy(), bboxes[:, 0].numpy(),
                        labels.numpy(), -scores.numpy()))
    order = torch.from_numpy(order)
    return bboxes[order], scores[order], labels[order]


def csdet_predict(model, image, conf, iou, multi_label, max_det):
    model.bbox_head.test_cfg = dict(
        score_thr=conf, nms=dict(type='nms', iou_threshold=iou),
        max_per_img=max_det, multi_label=multi_label, nms_pre=30000)
    height, width = image.shape[-2:]
    sample = DetDataSample(metainfo=dict(
        img_shape=(height, width), ori_shape=(height, width),
        scale_factor=(1.0, 1.0)))
    with torch.no_grad():
        return model.predict(image, [sample], rescale=False)[0].pred_instances


# ---------------------------------------------------------------- mapping
@pytest.mark.parametrize('name, expected', [
    ('model.0.conv.weight', 'backbone.stem.conv.weight'),
    ('model.2.cv1.bn.running_var',
     'backbone.stage1.1.main_conv.bn.running_var'),
    ('model.8.m.2.cv2.conv.weight',
     'backbone.stage4.1.blocks.2.conv2.conv.weight'),
    ('model.9.cv2.bn.bias', 'backbone.stage4.2.conv2.bn.bias'),
    ('model.9.m', 'backbone.stage4.2.pool'),
    ('model.13.cv3.conv.weight',
     'neck.top_down_blocks.0.final_conv.conv.weight'),
    ('model.14.bn.num_batches_tracked',
     'neck.reduce_layers.1.bn.num_batches_tracked'),
    ('model.21.conv.weight', 'neck.downsample_layers.1.conv.weight'),
    ('model.23.cv2.conv.weight',
     'neck.bottom_up_blocks.1.short_conv.conv.weight'),
    ('model.24.m.2.bias', 'bbox_head.convs_pred.2.bias'),
    ('model.24.anchors', 'bbox_head.anchors'),
    ('model.11', None),           # Upsample: no weights
    ('model.0.act', None),        # not a weight-bearing part
    ('model.25.conv.weight', None),
    ('backbone.stem.conv.weight', None),
])
def test_map_name(name, expected):
    assert map_name(name) == expected


# ------------------------------------------------------------ equivalence
@pytest.mark.parametrize('size, num_classes', [('n', 80), ('n', 6),
                                               ('s', 80), ('s', 6)])
def test_converted_model_gives_the_reference_outputs(
        yolov5_reference, tool, repo_root, tmp_path, size, num_classes):
    reference = build_reference(yolov5_reference, size, num_classes)
    save_like_ultralytics(tmp_path / 'ultralytics.pt', reference)
    # What the file holds: half-precision weights.
    reference.half().float().eval()

    assert tool.main([str(tmp_path / 'ultralytics.pt'),
                      str(tmp_path / 'csdet.pth')]) == 0
    model = build_csdet(repo_root, size, num_classes)
    load_checkpoint(model, str(tmp_path / 'csdet.pth'), strict=True)
    expected_anchors = reference.model[-1].anchors * torch.tensor(
        [8.0, 16.0, 32.0]).view(3, 1, 1)
    assert torch.equal(model.bbox_head.anchors, expected_anchors)
    assert not torch.allclose(model.bbox_head.anchors,
                              torch.tensor(YOLOV5_ANCHORS, dtype=torch.float))

    image = torch.rand(1, 3, *INPUT_SHAPE,
                       generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        decoded, raw = reference(image)
        pred_maps = model.bbox_head(model.neck(model.backbone(image)))[0]
    maps = as_reference_maps(pred_maps, num_classes)
    assert len(maps) == len(raw) == 3
    for ours, theirs in zip(maps, raw):
        assert ours.shape == theirs.shape
        assert (ours - theirs).abs().max().item() <= 1e-5

    detect_conf = conf_between_candidates(decoded[0], DETECT_BOXES)
    for conf, iou, multi_label, max_det in (
            VAL_NMS, (detect_conf, DETECT_IOU, False, 300)):
        expected = yolov5_reference.general.non_max_suppression(
            decoded.clone(), conf, iou, multi_label=multi_label,
            max_det=max_det)[0]
        got = csdet_predict(model, image, conf, iou, multi_label, max_det)
        # A real comparison: 300 (val, truncated) or 50..250 detections.
        assert 50 <= len(expected) <= max_det
        assert (len(expected) == max_det) == multi_label
        assert len(got) == len(expected)
        ours = canonical_order(got.bboxes, got.scores, got.labels)
        theirs = canonical_order(expected[:, :4], expected[:, 4],
                                 expected[:, 5].long())
        assert torch.equal(ours[2], theirs[2])  # labels
        torch.testing.assert_close(ours[1], theirs[1], rtol=0, atol=1e-6)
        torch.testing.assert_close(ours[0], theirs[0], rtol=0, atol=1e-3)


# ------------------------------------------------- checkpoint conventions
def test_github_class_names_and_the_ema_model_are_read(
        yolov5_reference, tool, tmp_path):
    plain = build_reference(yolov5_reference, 'n', 6, seed=0)
    ema = build_reference(yolov5_reference, 'n', 6, seed=10)
    path = tmp_path / 'github.pt'
    save_like_ultralytics(path, plain, ema=ema,
                          pickle_module=_GitHubPickleModule)
    with zipfile.ZipFile(path) as archive:
        data = archive.read(next(n for n in archive.namelist()
                                 if n.endswith('data.pkl')))
    # GLOBAL opcodes ('c' module '\n' name) name the GitHub modules only.
    assert b'cmodels.yolo\nDetectionModel\n' in data
    assert b'cmodels.common\nC3\n' in data
    assert b'cyolov5.' not in data

    key = 'backbone.stem.conv.weight'
    for source, wanted in (('auto', ema), ('ema', ema), ('model', plain)):
        out = tmp_path / f'{source}.pth'
        assert tool.main([str(path), str(out), '--source', source]) == 0
        weight = torch.load(out, weights_only=True)['state_dict'][key]
        expected = wanted.model[0].conv.weight.detach().half().float()
        assert torch.equal(weight, expected), source


def test_released_weights_layout_model_only(yolov5_reference, tool,
                                            tmp_path):
    """strip_optimizer(): the EMA moved to 'model', 'ema' set to None."""
    model = build_reference(yolov5_reference, 'n', 6)
    path = tmp_path / 'released.pt'
    torch.save({'epoch': -1, 'model': copy.deepcopy(model).half(),
                'ema': None, 'optimizer': None, 'updates': None}, path)
    assert tool.main([str(path), str(tmp_path / 'out.pth')]) == 0
    assert tool.main([str(path), str(tmp_path / 'out.pth'), '--source',
                      'ema']) == 2


@pytest.fixture(scope='module')
def yolov5n_80(yolov5_reference, tmp_path_factory):
    """An 80-class yolov5n reference (half-rounded) and its .pt file."""
    folder = tmp_path_factory.mktemp('yolov5n_80')
    reference = build_reference(yolov5_reference, 'n', 80)
    save_like_ultralytics(folder / 'yolov5n.pt', reference)
    return reference.half().float().eval(), folder / 'yolov5n.pt'


def _reference_neck_outputs(reference, image):
    captured = {}
    hooks = [reference.model[index].register_forward_hook(
        lambda module, args, out, index=index: captured.__setitem__(index,
                                                                    out))
        for index in (17, 20, 23)]
    with torch.no_grad():
        reference(image)
    for hook in hooks:
        hook.remove()
    return [captured[index] for index in (17, 20, 23)]


def test_num_classes_leaves_out_the_head_convs(yolov5n_80, tool, repo_root,
                                               tmp_path, capsys):
    reference, path = yolov5n_80
    out = tmp_path / 'six.pth'
    assert tool.main([str(path), str(out), '--num-classes', '6']) == 0
    printed = capsys.readouterr().out
    head_keys = [f'bbox_head.convs_pred.{level}.{name}'
                 for level in range(3) for name in ('bias', 'weight')]
    assert 're-initialises' in printed
    for key in head_keys:
        assert key in printed

    checkpoint = torch.load(out, weights_only=True)
    assert checkpoint['meta']['dropped_keys'] == sorted(head_keys)
    assert checkpoint['meta']['num_classes'] is None
    assert checkpoint['meta']['source_num_classes'] == 80
    assert not set(head_keys) & set(checkpoint['state_dict'])

    model = build_csdet(repo_root, 'n', 6)
    initial = {key: value.clone() for key, value in
               model.state_dict().items() if key in head_keys}
    load_checkpoint(model, str(out), strict=False)  # logger=None: printed
    printed = capsys.readouterr().out
    assert 'missing keys in source state_dict' in printed
    for key in head_keys:
        assert key in printed
        assert torch.equal(model.state_dict()[key], initial[key])
    # Everything but the head convs is the reference's.
    image = torch.rand(1, 3, *INPUT_SHAPE,
                       generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ours = model.neck(model.backbone(image))
    for mine, theirs in zip(ours, _reference_neck_outputs(reference, image)):
        assert (mine - theirs).abs().max().item() <= 1e-5


def test_without_num_classes_mmengine_reports_the_size_mismatch(
        yolov5n_80, tool, repo_root, tmp_path, capsys):
    _, path = yolov5n_80
    out = tmp_path / 'all.pth'
    assert tool.main([str(path), str(out), '--num-classes', '80']) == 0
    assert 'every weight kept' in capsys.readouterr().out
    model = build_csdet(repo_root, 'n', 6)
    load_checkpoint(model, str(out), strict=False)
    printed = capsys.readouterr().out
    assert 'size mismatch for bbox_head.convs_pred.0.weight' in printed


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize('yaml, match', [
    ('hub/yolov5n6.yaml', 'layers, expected 25'),          # P6: 4 levels
    ('segment/yolov5n-seg.yaml', 'layer 24 is Segment'),
    ('hub/yolov5s-ghost.yaml', 'layer 1 is GhostConv'),
    ('hub/yolov5s-LeakyReLU.yaml', 'activation LeakyReLU'),
])
def test_other_graphs_are_refused(yolov5_reference, monkeypatch, yaml,
                                  match):
    # A yaml 'activation' replaces the class-wide Conv.default_act.
    conv = yolov5_reference.yolo.Conv
    monkeypatch.setattr(conv, 'default_act', conv.default_act)
    model = yolov5_reference.yolo.Model(
        str(yolov5_reference.root / 'models' / yaml), nc=6)
    with pytest.raises(YOLOv5LayoutError, match=match):
        convert_state_dict(model)


def test_tool_errors_name_the_file(yolov5_reference, tool, tmp_path,
                                   capsys):
    p6 = tmp_path / 'yolov5n6.pt'
    save_like_ultralytics(p6, yolov5_reference.yolo.Model(
        str(yolov5_reference.root / 'models' / 'hub' / 'yolov5n6.yaml'),
        nc=6))
    not_ultralytics = tmp_path / 'mmdet.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}}, not_ultralytics)
    missing = tmp_path / 'missing.pt'
    for path, message in ((p6, 'expected 25'),
                          (not_ultralytics, 'not an Ultralytics YOLOv5'),
                          (missing, 'no such checkpoint file')):
        out = tmp_path / 'out.pth'
        assert tool.main([str(path), str(out)]) == 2
        err = capsys.readouterr().err
        assert f'error: {path}' in err and message in err
        assert not out.exists()  # nothing written, not even half


@pytest.mark.parametrize('missing, message', [
    ('yolov5', 'pip install --no-deps yolov5==7.0.14'),
    ('seaborn', "needs the module 'seaborn'"),
])
def test_missing_reference_says_what_to_install(monkeypatch, missing,
                                                message):
    def fail(name):
        raise ModuleNotFoundError(f'No module named {missing!r}',
                                  name=missing)

    monkeypatch.setattr(ultralytics_reference.importlib, 'import_module',
                        fail)
    with pytest.raises(ReferenceNotInstalledError, match=message) as info:
        import_yolov5_reference()
    assert 'pip install' in str(info.value)
    assert 'ultralytics' not in sys.modules  # the stand-in was removed


OFFLINE_SCRIPT = '''
import socket, sys
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args[:3]))
    raise OSError('network disabled by the test')
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
sys.path.append(sys.argv[1])
import torch
from csdet.models.utils import import_yolov5_reference
reference = import_yolov5_reference()
model = reference.yolo.Model(
    str(reference.root / 'models' / 'yolov5n.yaml'), nc=6).eval()
with torch.no_grad():
    decoded, _ = model(torch.rand(1, 3, 64, 64))
reference.general.non_max_suppression(decoded, 0.001, 0.6)
assert reference.loss.ComputeLoss is not None
print('network attempts:', attempts)
print('ultralytics imported:', 'ultralytics' in sys.modules)
'''


def test_reference_works_offline(yolov5_reference, tmp_path):
    """Import, build from the bundled yaml, forward, NMS: no connection
    is attempted (ultralytics' import-time probe is not run)."""
    env = dict(os.environ, YOLOV5_CONFIG_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, '-c', OFFLINE_SCRIPT,
         str(yolov5_reference.root.parent)],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'network attempts: []' in result.stdout
    assert 'ultralytics imported: False' in result.stdout
