"""SSD300 and Faster R-CNN NEU-DET configs, plain and cost-sensitive, and
their quick CPU variants: the pairs differ only in the class loss, the
quick configs only in their schedule (Faster R-CNN: and input size); all
share the cost settings with the evaluators, train one iteration through
mmengine's Runner, evaluate, and the cost term pushes the classification
logits."""
import math

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from csdet.cost.matrix import resolve_cost_matrix
from csdet.testing.synthetic import make_synthetic_coco
from csdet.utils.config import load_resolved

# (plain config, cost-sensitive config, path of the class-loss entry)
PAIRS = [
    ('ssd300_neu', 'cs_ssd300_neu', ('model', 'bbox_head', 'loss_cls')),
    ('faster-rcnn_r50_fpn_neu', 'cs_faster-rcnn_r50_fpn_neu',
     ('model', 'roi_head', 'bbox_head', 'loss_cls')),
]
# The quick CPU variants (tools/compare.py's short schedule), same layout.
QUICK_PAIRS = [
    (f'{plain}_quick', f'{cs}_quick', path) for plain, cs, path in PAIRS]
CONFIGS = [name for pair in PAIRS + QUICK_PAIRS for name in pair[:2]]
LOSS_PATH = {name: pair[2] for pair in PAIRS + QUICK_PAIRS
             for name in pair[:2]}


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


def load(repo_root, name, **options):
    return load_resolved(str(repo_root / 'configs' / f'{name}.py'),
                         options or None)


def pop_path(cfg_dict, path):
    node = cfg_dict
    for key in path[:-1]:
        node = node[key]
    return node.pop(path[-1])


def get_path(cfg, path):
    node = cfg
    for key in path:
        node = node[key]
    return node


# Faster R-CNN test size (configured: 400) and proposal budget.
FAST_SIZE = 128


def fewer_proposals(model_cfg):
    """Test-only: 100 instead of 1,000 proposals and 128 sampled RoIs."""
    for key in ('rpn_proposal', ):
        model_cfg.train_cfg[key].update(nms_pre=200, max_per_img=100)
    model_cfg.train_cfg.rcnn.sampler.num = 128
    model_cfg.test_cfg.rpn.update(nms_pre=200, max_per_img=100)


def cls_head(model):
    return getattr(model, 'bbox_head', None) or model.roi_head.bbox_head


# ------------------------------------------------------------ structure --
@pytest.mark.parametrize('plain,cs,loss_path', PAIRS + QUICK_PAIRS)
def test_pairs_differ_only_in_the_class_loss(repo_root, plain, cs,
                                             loss_path):
    plain_dict = load(repo_root, plain).to_dict()
    cs_dict = load(repo_root, cs).to_dict()
    plain_loss = pop_path(plain_dict, loss_path)
    cs_loss = pop_path(cs_dict, loss_path)
    assert plain_dict == cs_dict
    assert plain_loss['type'] == 'CrossEntropyLoss'
    assert cs_loss['type'] == 'CostSensitiveLoss'
    assert plain_loss['use_sigmoid'] is False
    assert cs_loss['use_sigmoid'] is False
    assert cs_loss['loss_weight'] == plain_loss['loss_weight'] == 1.0
    assert cs_loss['cost_weight'] > 0


# What a quick config may change besides the schedule: Faster R-CNN trains
# at the native 200 px with anchors halved to match.
SCHEDULE_KEYS = {'train_cfg', 'param_scheduler'}
SIZE_KEYS = {'img_size', 'model', 'train_pipeline', 'test_pipeline',
             'train_dataloader', 'val_dataloader', 'test_dataloader'}


@pytest.mark.parametrize('plain,cs,loss_path', PAIRS)
def test_quick_configs_change_only_the_schedule(repo_root, plain, cs,
                                                loss_path):
    full = load(repo_root, plain).to_dict()
    quick = load(repo_root, f'{plain}_quick').to_dict()
    changed = {key for key in full.keys() | quick.keys()
               if full.get(key) != quick.get(key)}
    allowed = SCHEDULE_KEYS | (SIZE_KEYS if 'faster' in plain else set())
    assert changed <= allowed, changed - allowed
    assert quick['train_cfg']['max_epochs'] == 1
    if 'faster' in plain:
        # Model: only the RPN anchor scale, halved with the input size.
        full_model, quick_model = full['model'], quick['model']
        assert full_model['rpn_head']['anchor_generator'].pop('scales') == [8]
        assert quick_model['rpn_head']['anchor_generator'].pop(
            'scales') == [4]
        assert full_model == quick_model
        assert quick['img_size'] * 2 == full['img_size']
        # The same config at the full config's size equals the full one.
        resized = load(repo_root, f'{plain}_quick', img_size=400).to_dict()
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            assert resized[key] == full[key], key
    # The cost-sensitive quick config has its full config's loss.
    cs_full = get_path(load(repo_root, cs), loss_path)
    cs_quick = get_path(load(repo_root, f'{cs}_quick'), loss_path)
    assert cs_quick == cs_full


@pytest.mark.parametrize('name', CONFIGS)
def test_loss_and_evaluators_use_the_shared_cost_settings(repo_root, name):
    cfg = load(repo_root, name)
    yolo = load(repo_root, 'yolov5_neu')
    # Same annotation files and evaluators as every NEU-DET config.
    assert cfg.val_evaluator == yolo.val_evaluator
    assert cfg.test_evaluator == yolo.test_evaluator
    for split in ('train', 'val', 'test'):
        loader = f'{split}_dataloader'
        assert cfg[loader].dataset.ann_file == \
            yolo[loader].dataset.dataset.ann_file if split == 'train' else \
            yolo[loader].dataset.ann_file
    evaluator_types = [metric['type'] for metric in cfg.val_evaluator]
    assert evaluator_types[0] == 'CocoMetric'
    assert 'CostMetric' in evaluator_types
    classes = cfg.classes
    head = get_path(cfg, LOSS_PATH[name][:-1])
    assert head.num_classes == len(classes) == 6
    paper_matrix = resolve_cost_matrix(
        classes=classes,
        positive_classes=('patches', 'pitted_surface', 'inclusion',
                          'scratches'),
        group='a')
    for metric in cfg.val_evaluator[1:]:
        metric_matrix = resolve_cost_matrix(
            classes=classes,
            positive_classes=metric['positive_classes'],
            group=metric['group'],
            normalize=metric['normalize'])
        np.testing.assert_array_equal(metric_matrix, paper_matrix)
    loss = get_path(cfg, LOSS_PATH[name])
    if loss['type'] == 'CostSensitiveLoss':
        loss_matrix = resolve_cost_matrix(
            classes=loss['classes'],
            positive_classes=loss['positive_classes'],
            group=loss['group'],
            normalize=loss['normalize'])
        np.testing.assert_array_equal(loss_matrix, paper_matrix)
        assert loss['cost_weight'] == cfg.cost.ratio * loss['loss_weight']


@pytest.mark.parametrize('name', CONFIGS)
def test_same_evaluators_as_the_yolov5_configs(repo_root, name):
    yolo_path = repo_root / 'configs' / 'yolov5_neu.py'
    if not yolo_path.is_file():
        pytest.skip('configs/yolov5_neu.py not present')
    yolo = load_resolved(str(yolo_path)).to_dict()
    cfg = load(repo_root, name).to_dict()
    assert cfg['val_evaluator'] == yolo['val_evaluator']
    assert cfg['test_evaluator'] == yolo['test_evaluator']
    for key in ('data_root', 'classes', 'train_ann_file', 'test_ann_file'):
        assert cfg[key] == yolo[key], key


def test_no_config_downloads_weights(repo_root):
    for name in CONFIGS:
        cfg = load(repo_root, name)
        assert cfg.model.backbone.init_cfg is None, name
        assert cfg.load_from is None, name
        assert 'pretrained' not in cfg.model


# ------------------------------------------------------------- runner --
@pytest.fixture(scope='module')
def synthetic_neu(tmp_path_factory):
    """Four 200 x 200 synthetic NEU-like images: 2 train, 2 test."""
    root = tmp_path_factory.mktemp('synthetic_neu')
    return make_synthetic_coco(root, num_images=4, image_size=200,
                               test_fraction=0.5, seed=0)


def tiny_run_config(repo_root, name, data, work_dir):
    """The config, re-rooted on the synthetic set: batch 2, one epoch (one
    iteration), in-process loading. Faster R-CNN runs at 128 px instead of
    400 and with fewer proposals to keep the test short; SSD needs its
    300 px (fixed anchors)."""
    options = dict(data_root=str(data['root']) + '/')
    if 'faster' in name:
        options['img_size'] = FAST_SIZE
    cfg = load(repo_root, name, **options)
    cfg.work_dir = str(work_dir)
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.batch_size = 2
        loader.num_workers = 0
        loader.persistent_workers = False
    if 'faster' in name:
        fewer_proposals(cfg.model)
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = None  # no 100+ MB checkpoint write
    cfg.default_hooks.visualization = dict(type='DetVisualizationHook')
    cfg.randomness = dict(seed=0)
    return cfg


# The cost-sensitive configs only: each plain config is its CS config minus
# the loss (tested above) and trains in test_cost_term_gradient_and_cls_probs.
@pytest.mark.parametrize('name', [pair[1] for pair in PAIRS + QUICK_PAIRS])
def test_one_training_iteration_and_evaluation(repo_root, synthetic_neu,
                                               tmp_path, name):
    runner = Runner.from_cfg(
        tiny_run_config(repo_root, name, synthetic_neu, tmp_path))
    runner.train()
    assert runner.iter == 1
    logged = runner.message_hub.log_scalars
    total = logged['train/loss'].current()
    assert math.isfinite(total) and total > 0
    for key in ('loss_cls_ce', 'loss_cls_cost', 'loss_bbox'):
        value = logged[f'train/{key}'].current()
        assert math.isfinite(value), key
    assert 'train/loss_cls' not in logged
    assert logged['train/loss_cls_cost'].current() > 0
    # Validation ran every evaluator on the predictions (CostMetric raises
    # without pred_instances.cls_probs of the right width).
    metrics = {key: value.current() for key, value in logged.items()
               if key.startswith('val/')}
    for key in ('val/coco/bbox_mAP_50', 'val/cost_det/cost', 'val/f1/f1'):
        assert any(k.startswith(key) for k in metrics), (key, sorted(metrics))


# ----------------------------------------------- model-level behaviour --
def synthetic_batch(model, size, num_images=2):
    inputs, samples = [], []
    generator = torch.Generator().manual_seed(0)
    for index in range(num_images):
        inputs.append(
            torch.randint(0, 256, (3, size, size), dtype=torch.uint8,
                          generator=generator))
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(size, size),
                ori_shape=(200, 200),
                scale_factor=(size / 200, size / 200),
                pad_shape=(size, size)))
        scale = size / 200
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 20., 90., 190.],
                                 [100., 30., 195., 80.]]) * scale,
            labels=torch.tensor([2 + index, 5]))
        samples.append(sample)
    return model.data_preprocessor(dict(inputs=inputs, data_samples=samples),
                                   True)


def fill_l2norm_weights(model) -> None:
    """Give SSD's L2Norm its init_weights value (its scale, 20).

    mmdet's L2Norm allocates its weight with torch.Tensor(n), i.e.
    uninitialised memory, and only init_weights fills it: without this the
    SSD losses were NaN in about one run in four on a busy machine.
    """
    for module in model.modules():
        if type(module).__name__ == 'L2Norm':
            torch.nn.init.constant_(module.weight, module.scale)


def logits_recorder(model):
    """Collect the raw class logits: SSD's per-level cls convs or the RoI
    head's fc_cls."""
    recorded = []

    def keep(module, args, output):
        recorded.append(output)

    head = cls_head(model)
    modules = ([head.fc_cls] if hasattr(head, 'fc_cls') else list(
        head.cls_convs))
    handles = [module.register_forward_hook(keep) for module in modules]
    return recorded, handles


@pytest.mark.parametrize('name',
                         [name for pair in PAIRS for name in pair[:2]])
def test_cost_term_gradient_and_cls_probs(repo_root, name):
    cfg = load(repo_root, name)
    if 'faster' in name:
        fewer_proposals(cfg.model)
    torch.manual_seed(0)
    # PyTorch's default init: init_weights (slow, and run by the Runner
    # test above) is not what this test is about.
    model = MODELS.build(cfg.model)
    fill_l2norm_weights(model)
    size = 300 if 'ssd' in name else FAST_SIZE
    data = synthetic_batch(model, size)

    model.train()
    recorded, handles = logits_recorder(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    for handle in handles:
        handle.remove()
    for key, value in losses.items():
        if 'loss' in key:
            value = sum(v.sum() for v in value) if isinstance(
                value, list) else value.sum()
            assert torch.isfinite(value), key
    if name.startswith('cs_'):
        cost = losses['loss_cls_cost']
        cost = sum(v.sum() for v in cost) if isinstance(cost, list) else cost
        assert cost > 0
        grads = torch.autograd.grad(cost, recorded, allow_unused=True)
        assert sum(g.abs().sum() for g in grads if g is not None) > 0
    else:
        assert 'loss_cls_cost' not in losses

    model.eval()
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
    for result in results:
        pred = result.pred_instances
        assert len(pred) > 0
        assert pred.cls_probs.shape == (len(pred), 6)
        assert torch.equal(
            pred.cls_probs.gather(1, pred.labels[:, None])[:, 0],
            pred.scores)
