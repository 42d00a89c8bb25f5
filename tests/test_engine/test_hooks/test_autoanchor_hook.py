"""AutoAnchor (Ultralytics v7.0 check_anchors / kmean_anchors)."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.hooks import EMAHook

from csdet.engine.hooks import YOLOv5AutoAnchorHook
from csdet.engine.hooks.autoanchor_hook import (best_possible_recall,
                                                check_anchors,
                                                dataset_box_sizes,
                                                kmean_anchors)
from csdet.models.dense_heads.yolov5_head import YOLOV5_ANCHORS, YOLOv5Head


def test_bpr_hand_case():
    wh = torch.tensor([[10., 10.], [100., 100.], [50., 10.]])
    # Ratio metric vs a 10x10 anchor: 1, 0.1, min(10/50, 1) = 0.2.
    bpr, aat = best_possible_recall(wh, torch.tensor([[10., 10.]]), 0.25)
    assert bpr == pytest.approx(1 / 3) and aat == pytest.approx(1 / 3)
    # Adding 40x40: box 2 -> 0.4 (> 0.25); box 3 -> min(0.8, 0.25) = 0.25,
    # not strictly above the threshold.
    bpr, aat = best_possible_recall(
        wh, torch.tensor([[10., 10.], [40., 40.]]), 0.25)
    assert bpr == pytest.approx(2 / 3) and aat == pytest.approx(2 / 3)


class FakeDataset:
    """Minimal mmengine-style dataset: data infos with instances."""

    def __init__(self, infos):
        self.data_list = infos

    def __len__(self):
        return len(self.data_list)

    def get_data_info(self, idx):
        return self.data_list[idx]


def _tiny_box_infos(num_images=60, seed=0):
    rng = np.random.RandomState(seed)
    infos = []
    for _ in range(num_images):
        instances = []
        for _ in range(5):
            w, h = rng.uniform(2.1, 4.0), rng.uniform(2.1, 2.9)
            x, y = rng.uniform(0, 180, 2)
            instances.append(dict(bbox=[x, y, x + w, y + h], bbox_label=0,
                                  ignore_flag=0))
        instances.append(dict(bbox=[0, 0, 150, 150], bbox_label=1,
                              ignore_flag=1))  # ignored: not counted
        infos.append(dict(height=200, width=200, instances=instances))
    return infos


def test_dataset_box_sizes_scaling_and_ignore():
    infos = [dict(height=200, width=400, instances=[
        dict(bbox=[0, 0, 40, 20], ignore_flag=0),
        dict(bbox=[0, 0, 100, 100], ignore_flag=1)])]
    wrapper = SimpleNamespace(dataset=FakeDataset(infos))  # like a wrapper
    wh, image_ids = dataset_box_sizes(wrapper, img_size=200)
    np.testing.assert_allclose(wh, [[20, 10]])
    assert image_ids.tolist() == [0]


def test_refit_improves_bpr_on_tiny_boxes():
    wh, image_ids = dataset_box_sizes(FakeDataset(_tiny_box_infos()), 200)
    result = check_anchors(wh, image_ids, np.array(YOLOV5_ANCHORS),
                           anchor_t=4.0, img_size=200, generations=200)
    # Heights < 2.9 px (x 1.1 jitter < 3.2) vs anchor heights >= 13 px:
    # the ratio metric is < 0.25 for every box and anchor.
    assert result['bpr'] == 0.0
    assert result['replaced'] and result['new_bpr'] > 0.98
    new = result['anchors']
    assert new.shape == (3, 3, 2)
    areas = new.reshape(-1, 2).prod(1)
    assert (np.diff(areas) >= 0).all()  # sorted small -> large by level
    assert (new >= 2.0).all()


def test_good_anchors_are_kept_and_refit_is_deterministic():
    wh = np.array([[12., 14.], [30., 60.], [120., 90.]] * 20)
    ids = np.arange(len(wh))
    result = check_anchors(wh, ids, np.array(YOLOV5_ANCHORS))
    assert result['bpr'] == 1.0 and result['new_bpr'] is None
    assert not result['replaced']
    tiny = np.random.RandomState(1).uniform(2, 5, (100, 2))
    first = kmean_anchors(tiny, 9, img_size=64, generations=50, seed=3)
    second = kmean_anchors(tiny, 9, img_size=64, generations=50, seed=3)
    np.testing.assert_array_equal(first, second)


class FakeDetector(nn.Module):

    def __init__(self):
        super().__init__()
        self.bbox_head = YOLOv5Head(num_classes=2, widen_factor=0.125,
                                    imgsz=200)


def _runner(iteration=0):
    model = FakeDetector()
    ema = EMAHook()
    ema.ema_model = SimpleNamespace(module=FakeDetector())
    dataset = SimpleNamespace(dataset=FakeDataset(_tiny_box_infos()))
    return SimpleNamespace(model=model, hooks=[ema], iter=iteration,
                           train_dataloader=SimpleNamespace(dataset=dataset))


def test_hook_replaces_anchors_in_model_and_ema():
    runner = _runner()
    hook = YOLOv5AutoAnchorHook(generations=200)
    hook.before_train(runner)
    assert hook.result['replaced']
    head = runner.model.bbox_head
    new = torch.tensor(hook.result['anchors'])
    assert torch.equal(head.anchors, new)
    assert torch.equal(runner.hooks[0].ema_model.module.bbox_head.anchors,
                       new)
    # The anchors are a buffer: they travel with the state dict.
    assert torch.equal(runner.model.state_dict()['bbox_head.anchors'], new)
    # The prior generator follows the buffer when decoding.
    head._sync_prior_generator()
    np.testing.assert_allclose(np.array(head.prior_generator.base_sizes),
                               new.numpy())


def test_hook_disabled_and_resume_leave_anchors_alone():
    default = torch.tensor(YOLOV5_ANCHORS, dtype=torch.float32)
    runner = _runner()
    YOLOv5AutoAnchorHook(enabled=False).before_train(runner)
    assert torch.equal(runner.model.bbox_head.anchors, default)
    resumed = _runner(iteration=10)
    YOLOv5AutoAnchorHook().before_train(resumed)
    assert torch.equal(resumed.model.bbox_head.anchors, default)


def test_hook_needs_a_yolov5_head():
    runner = _runner()
    runner.model = nn.Linear(1, 1)
    with pytest.raises(TypeError, match='set_anchors'):
        YOLOv5AutoAnchorHook().before_train(runner)
