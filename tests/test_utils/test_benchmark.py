"""csdet.utils.benchmark on a tiny YOLOv5n (64 px, batch 2): keys and sane
values only, no timing thresholds (the machine is shared)."""
import math

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

import csdet  # noqa: F401  (registers csdet modules)
from csdet.utils.config import load_resolved
from csdet.testing.synthetic import make_synthetic_coco
from csdet.utils.benchmark import (Timing, benchmark_model, count_parameters,
                                   input_size, summarize, synthetic_batch,
                                   load_test_images, time_calls)


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    """Two threads on the shared 2-core machine made the first training
    step take ~20 s (measured); one thread keeps these tests to seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def tiny_model(repo_root):
    cfg = Config.fromfile(repo_root / 'configs/_base_/models/yolov5n.py')
    cfg.model.bbox_head.update(num_classes=2, imgsz=64)
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    # A fresh current logger: an earlier in-process Runner may have left
    # one whose log file is closed, where init_weights writes.
    MMLogger.get_instance('test_benchmark_tiny_model')
    model.init_weights()
    return model


def assert_sane(timing: Timing) -> None:
    values = (timing.q1, timing.median, timing.q3)
    assert all(math.isfinite(v) and v > 0 for v in values)
    assert timing.q1 <= timing.median <= timing.q3


def test_benchmark_model_times_every_measurement(tiny_model):
    timings = benchmark_model(tiny_model, batch_size=2, img_size=64,
                              num_classes=2, iters=2, warmup=1)
    assert set(timings) == {'train_step', 'infer_one', 'infer_batch'}
    for timing in timings.values():
        assert_sane(timing)


def test_benchmark_model_skips_what_is_not_asked(tiny_model):
    timings = benchmark_model(tiny_model, batch_size=2, img_size=64,
                              num_classes=2, iters=1, warmup=0, train=False,
                              batch_inference=False)
    assert set(timings) == {'infer_one'}
    assert_sane(timings['infer_one'])


def test_synthetic_batch_shapes_and_determinism():
    batch = synthetic_batch(3, 32, num_classes=4)
    shapes = [tuple(image.shape) for image in batch['inputs']]
    assert shapes == [(3, 32, 32)] * 3
    boxes = batch['data_samples'][0].gt_instances.bboxes
    assert boxes.shape == (3, 4) and (boxes[:, 2:] > boxes[:, :2]).all()
    assert (boxes <= 32).all()
    again = synthetic_batch(3, 32, num_classes=4)
    assert torch.equal(again['inputs'][2], batch['inputs'][2])


def test_helpers():
    assert summarize([2.0]) == Timing(2.0, 2.0, 2.0)
    assert summarize([1.0, 9.0]) == Timing(5.0, 1.0, 9.0)
    assert summarize([1.0, 2.0, 3.0]).median == 2.0
    calls = []
    assert len(time_calls(lambda: calls.append(1), iters=3, warmup=2)) == 3
    assert len(calls) == 5
    with pytest.raises(ValueError):
        time_calls(lambda: None, iters=0, warmup=0)
    linear = torch.nn.Linear(3, 2)
    assert count_parameters(linear) == 3 * 2 + 2


def test_input_size_of_repo_configs(repo_root):
    sizes = {name: input_size(load_resolved(
        str(repo_root / 'configs' / f'{name}.py')))
        for name in ('yolov5_neu', 'ssd300_neu', 'faster-rcnn_r50_fpn_neu')}
    assert sizes == {'yolov5_neu': 192, 'ssd300_neu': 300,
                     'faster-rcnn_r50_fpn_neu': 400}


def test_load_test_images_uses_the_test_pipeline(repo_root, tmp_path):
    data = make_synthetic_coco(tmp_path, num_images=8, image_size=80,
                               test_fraction=0.5)
    cfg = load_resolved(str(repo_root / 'configs' / 'yolov5_neu_quick.py'),
                        dict(data_root=f"{data['root']}/",
                             test_ann_file=str(data['test'])))
    images = load_test_images(cfg, count=10)  # more than the 4 test images
    assert len(images['inputs']) == len(images['data_samples']) == 4
    for image, sample in zip(images['inputs'], images['data_samples']):
        # LetterBox to 192, then YOLOv5's validation padding to a stride
        # multiple with half a stride extra: 224
        assert image.dtype == torch.uint8 and image.shape[0] == 3
        assert tuple(image.shape[1:]) == (224, 224)
        assert sample.ori_shape == (80, 80)


def test_benchmark_model_predicts_on_given_images(tiny_model, monkeypatch):
    # three images of different sizes: each inference call shows which one
    # (or how many) it got
    parts = [synthetic_batch(1, size, num_classes=2) for size in (64, 96, 128)]
    images = dict(inputs=[part['inputs'][0] for part in parts],
                  data_samples=[part['data_samples'][0] for part in parts])
    seen = []
    forward = tiny_model.forward

    def recording_forward(inputs, data_samples=None, mode='tensor'):
        if mode == 'predict':
            seen.append((inputs.shape[0], inputs.shape[-1]))
        return forward(inputs, data_samples, mode)

    monkeypatch.setattr(tiny_model, 'forward', recording_forward)
    timings = benchmark_model(tiny_model, batch_size=2, img_size=32,
                              num_classes=2, iters=4, warmup=0, train=False,
                              images=images)
    assert set(timings) == {'infer_one', 'infer_batch'}
    # one image per call, in turn, then the whole set (padded to 128)
    assert seen == [(1, 64), (1, 96), (1, 128), (1, 64)] + [(3, 128)] * 4
