"""Every config loads and builds; the YOLOv5 NEU-DET configs run end to end."""
import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmdet.registry import MODELS

import csdet  # noqa: F401  (registers the csdet modules)
from csdet.utils.config import load_resolved
from neu_subset import make_neu_data_root

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO_ROOT / 'configs').glob('*.py'))
# The custom templates read their classes from a dataset a user has.
CUSTOM = sorted((REPO_ROOT / 'configs' / 'custom').glob('*.py'))
NEU_PAIRS = [('yolov5_neu.py', 'cs_yolov5_neu.py'),
             ('yolov5_neu_quick.py', 'cs_yolov5_neu_quick.py'),
             ('yolov5n_neu.py', 'cs_yolov5n_neu.py'),
             ('yolov5m_neu.py', 'cs_yolov5m_neu.py')]
POSITIVE = ['patches', 'pitted_surface', 'inclusion', 'scratches']


def _load(name: str, **options) -> Config:
    return load_resolved(str(REPO_ROOT / 'configs' / name), options or None)


def _without_loss_cls(cfg_dict: dict) -> dict:
    cfg_dict = copy.deepcopy(cfg_dict)
    del cfg_dict['model']['bbox_head']['loss_cls']
    return cfg_dict


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_config_loads_and_builds_model(path):
    cfg = load_resolved(str(path))
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize('path', CUSTOM, ids=lambda p: p.name)
def test_custom_template_builds_model(path):
    classes = ['crack', 'dent', 'rust']
    cfg = load_resolved(str(path), dict(classes=classes))
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    head = (model.roi_head.bbox_head if hasattr(model, 'roi_head')
            else model.bbox_head)
    assert head.num_classes == 3


@pytest.mark.parametrize('baseline, cost_sensitive', NEU_PAIRS)
def test_cs_config_differs_only_in_loss_cls(baseline, cost_sensitive):
    base = _load(baseline).to_dict()
    cs = _load(cost_sensitive).to_dict()
    assert _without_loss_cls(base) == _without_loss_cls(cs)
    base_loss = base['model']['bbox_head']['loss_cls']
    cs_loss = cs['model']['bbox_head']['loss_cls']
    assert base_loss['type'] == 'CrossEntropyLoss'
    assert cs_loss['type'] == 'CostSensitiveLoss'
    assert cs_loss['use_sigmoid'] and cs_loss['group'] == 'a'
    assert cs_loss['positive_classes'] == POSITIVE
    # Same CE weight as the baseline, so r = 0 would be the baseline.
    assert cs_loss['loss_weight'] == base_loss['loss_weight']
    # One loss block for all CS configs (no drift between copies).
    assert cs_loss == _load('cs_yolov5_neu.py').to_dict()['model'][
        'bbox_head']['loss_cls']


def test_cs_loss_builds_with_dataset_class_order():
    cfg = _load('cs_yolov5_neu.py')
    init_default_scope('mmdet')
    head = MODELS.build(cfg.model).bbox_head
    matrix = head.loss_cls.cost_matrix
    classes = list(cfg.classes)
    crazing, patches = classes.index('crazing'), classes.index('patches')
    # Negative truth predicted as a positive class: lambda_NP, the largest.
    assert matrix[crazing, patches] == pytest.approx(1.0)
    assert torch.all(matrix.diagonal() == 0)


def test_paper_recipe_values():
    cfg = _load('yolov5_neu.py')
    assert cfg.train_dataloader.batch_size == 230
    assert cfg.train_cfg.max_epochs == 90
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay,
            optimizer.momentum, optimizer.nesterov) == ('SGD', 0.002, 5e-4,
                                                        0.937, True)
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=10.0)
    hooks = {hook['type']: hook for hook in cfg.custom_hooks}
    assert hooks['YOLOv5ParamSchedulerHook']['lr_schedule'] == 'cosine'
    ema = hooks['YOLOv5EMAHook']
    assert (ema['ema_type'], ema['momentum'], ema['gamma'],
            ema['update_buffers']) == ('ExpMomentumEMA', 0.0001, 2000, True)
    assert hooks['YOLOv5AutoAnchorHook']['enabled']
    assert not cfg.auto_scale_lr.enable
    assert cfg.model.bbox_head.imgsz == 192
    assert [e['type'] for e in cfg.val_evaluator] == [
        'CocoMetric', 'CostMetric', 'F1Metric', 'DecisionCostMetric',
        'PositiveCostMetric']
    assert 'LossPositivesHook' in [h['type'] for h in cfg.custom_hooks]
    train_types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert train_types == ['YOLOv5Mosaic', 'YOLOv5RandomPerspective',
                           'YOLOv5HSVRandomAug', 'RandomFlip',
                           'PackDetInputs']
    assert 'pad_param' in cfg.test_dataloader.dataset.pipeline[-1][
        'meta_keys']


@pytest.mark.parametrize('name', ['yolov5_neu_quick.py',
                                  'cs_yolov5_neu_quick.py'])
def test_quick_config_trains_and_evaluates(name, neu_det_root, tmp_path):
    """One epoch (2 iterations, mosaic pipeline) + evaluation with all four
    evaluators on 8 real images, through mmengine's Runner."""
    data_root = make_neu_data_root(neu_det_root, tmp_path / 'data')
    cfg = _load(name, data_root=str(data_root) + '/')
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.batch_size = 4
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    for hook in cfg.custom_hooks:
        if hook['type'] == 'YOLOv5AutoAnchorHook':
            hook['generations'] = 50
    cfg.default_hooks.visualization = dict(type='DetVisualizationHook')
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2
    # The hook applied the real batch (4): accumulate round(64 / 4) = 16.
    assert runner.optim_wrapper.nominal_accumulate == 16
    metrics = runner.val_loop.run()
    for key in ('coco/bbox_mAP_50', 'cost_det/cost', 'f1/f1',
                'decision/total_cost'):
        assert key in metrics
    # F counts detections matched to the 8 images' ground truth: an
    # untrained model still outputs boxes at score >= 0.
    assert metrics['cost_det/num_gts'] > 0
