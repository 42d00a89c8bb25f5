"""YOLOv5 detector built from configs/_base_/models: parameter counts of the
reference, the detector-level size factors, and the whole model through
mmdet's data preprocessor (loss, predict, a short optimisation)."""
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import csdet  # noqa: F401  (registers the modules)

# Ultralytics v7.0 model summaries (docs/yolov5.md).
REFERENCE_PARAMS = {
    ('yolov5n', 80): 1_872_157,
    ('yolov5n', 6): 1_772_035,
    ('yolov5s', 80): 7_235_389,
    ('yolov5s', 6): 7_035_811,
    ('yolov5m', 80): 21_190_557,
    ('yolov5m', 6): 20_891_523,
}


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def build_model(repo_root, size='yolov5s', num_classes=80, **head_kwargs):
    cfg = Config.fromfile(
        str(repo_root / 'configs' / '_base_' / 'models' / f'{size}.py'))
    cfg.model.bbox_head.num_classes = num_classes
    cfg.model.bbox_head.update(head_kwargs)
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('size,num_classes', sorted(REFERENCE_PARAMS))
def test_parameter_counts_equal_the_reference(repo_root, size, num_classes):
    model = build_model(repo_root, size, num_classes)
    count = sum(p.numel() for p in model.parameters())
    assert count == REFERENCE_PARAMS[(size, num_classes)]


def test_size_factors_reach_every_component(repo_root):
    model = build_model(repo_root, 'yolov5m')
    assert model.deepen_factor == 0.67 and model.widen_factor == 0.75
    assert model.backbone.stem.conv.out_channels == 48
    assert model.bbox_head.in_channels == [192, 384, 768]
    assert len(model.neck.top_down_blocks[0].blocks) == 2


def test_conflicting_size_factor_is_rejected(repo_root):
    cfg = Config.fromfile(
        str(repo_root / 'configs' / '_base_' / 'models' / 'yolov5s.py'))
    cfg.model.backbone.widen_factor = 0.25
    with pytest.raises(ValueError, match='widen_factor'):
        MODELS.build(cfg.model)


def _batch(num_imgs=2, size=96, seed=0):
    """uint8 BGR images + samples with gts in network-input pixels and a
    letterbox-style meta (original 2x larger, padded 8 px on top)."""
    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    boxes = [[[10.0, 20.0, 40.0, 60.0], [50.0, 30.0, 90.0, 80.0]],
             [[5.0, 40.0, 30.0, 70.0], [40.0, 10.0, 85.0, 50.0]]]
    labels = [[0, 3], [5, 2]]
    for index in range(num_imgs):
        inputs.append(
            torch.randint(0, 256, (3, size, size), generator=generator,
                          dtype=torch.uint8))
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(size, size),
                ori_shape=(2 * (size - 16), 2 * size),
                scale_factor=(0.5, 0.5),
                pad_param=[8, 8, 0, 0]))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor(boxes[index % 2]) * (size / 96),
            labels=torch.tensor(labels[index % 2]))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_loss_and_predict_through_the_data_preprocessor(repo_root):
    model = build_model(repo_root, 'yolov5n', num_classes=6, imgsz=96)
    data = model.data_preprocessor(_batch(), training=True)
    assert data['inputs'].shape == (2, 3, 96, 96)
    assert 0.0 <= data['inputs'].min() and data['inputs'].max() <= 1.0
    model.train()
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_bbox', 'loss_obj', 'loss_cls'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())

    model.eval()
    data = model.data_preprocessor(_batch(), training=False)
    with torch.no_grad():
        results = model(**data, mode='predict')
    for result in results:
        pred = result.pred_instances
        assert len(pred) > 0
        assert pred.cls_probs.shape == (len(pred), 6)
        assert ((pred.cls_probs >= 0) & (pred.cls_probs <= 1)).all()
        height, width = result.ori_shape
        assert pred.bboxes[:, 0::2].max() <= width
        assert pred.bboxes[:, 1::2].max() <= height
        assert pred.bboxes.min() >= 0


def test_loss_decreases_on_two_fixed_images(repo_root):
    torch.manual_seed(0)
    model = build_model(repo_root, 'yolov5n', num_classes=6, imgsz=64)
    model.init_weights()
    model.train()
    data = model.data_preprocessor(_batch(size=64), training=True)
    # The loss is scaled by the batch size (2 here, 64 nominal in the
    # reference), hence a larger lr than the reference's 0.01.
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    history = []
    for _ in range(30):
        losses = model(**data, mode='loss')
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append({k: v.item() for k, v in losses.items()})
    totals = [sum(step.values()) for step in history]
    assert all(torch.isfinite(torch.tensor(totals)))
    # The last few iterations average well below the first one; box and
    # class terms both fall (objectness may rise: its targets are the IoUs).
    assert sum(totals[-5:]) / 5 < 0.75 * totals[0]
    for key in ('loss_bbox', 'loss_cls'):
        assert history[-1][key] < 0.8 * history[0][key]
