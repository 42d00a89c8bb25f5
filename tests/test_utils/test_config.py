"""csdet.utils.config: top-level settings reach every place that uses them."""
import json
from pathlib import Path

import pytest
from mmengine.config import Config

import csdet  # noqa: F401  (registers the csdet modules)
from csdet.datasets import NEU_DET_CLASSES
from csdet.utils.config import (ConfigSettingError, cost_spec,
                                innermost_dataset, load_resolved,
                                resolve_config, type_name, walk_dicts)
from csdet.utils.runner_setup import UserInputError, load_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'configs'
NEU_POSITIVE = ['patches', 'pitted_surface', 'inclusion', 'scratches']


def load(name: str, **options) -> Config:
    return load_resolved(str(CONFIGS / name), options or None)


def steps(cfg: Config, name: str, key: str = '') -> list:
    """Every dict of type ``name`` in the config (or below ``cfg[key]``)."""
    root = cfg[key] if key else cfg._cfg_dict
    return [node for _, node in walk_dicts(root) if type_name(node) == name]


def cost_consumers(cfg: Config) -> list:
    losses = steps(cfg, 'CostSensitiveLoss', 'model')
    metrics = [node for name in ('CostMetric', 'F1Metric',
                                 'DecisionCostMetric')
               for node in steps(cfg, name)]
    return losses, metrics


def write_coco(path: Path, categories) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(
        images=[], annotations=[],
        categories=[dict(id=i, name=n) for i, n in categories])))
    return path


# ---------------------------------------------------------------- cost --
@pytest.mark.parametrize('name', [
    'cs_yolov5_neu.py', 'cs_yolov5_neu_quick.py', 'cs_ssd300_neu.py',
    'cs_faster-rcnn_r50_fpn_neu_quick.py'])
def test_one_cost_override_reaches_loss_and_every_evaluator(name):
    cfg = load(name, **{'cost.group': 'b', 'cost.ratio': 1.5})
    losses, metrics = cost_consumers(cfg)
    assert len(losses) == 1 and len(metrics) == 6  # 3 val + 3 test
    for node in losses + metrics:
        assert node['group'] == 'b'
        assert node['positive_classes'] == NEU_POSITIVE
        assert node['normalize'] == 'max'
    loss = losses[0]
    assert loss['cost_weight'] == pytest.approx(1.5 * loss['loss_weight'])
    assert tuple(loss['classes']) == NEU_DET_CLASSES


def test_default_cost_is_the_papers_group_a_at_r_075():
    losses, metrics = cost_consumers(load('cs_yolov5_neu.py'))
    assert losses[0]['group'] == 'a'
    assert losses[0]['cost_weight'] == pytest.approx(0.75 * 0.5)
    assert all(m['group'] == 'a' for m in metrics)


def test_explicit_matrix_replaces_the_group(tmp_path):
    matrix = [[0, 1, 2, 3, 4, 5]] * 6
    matrix = [[0 if i == j else 1 for j in range(6)] for i in range(6)]
    cfg = load('cs_yolov5_neu.py', **{'cost.matrix': matrix,
                                      'cost.group': None})
    losses, metrics = cost_consumers(cfg)
    for node in losses + metrics:
        assert node['cost_matrix'] == matrix and node['group'] is None


@pytest.mark.parametrize('cost, message', [
    (dict(positive_classes=['a'], group='a', coefficients=(4, 3, 2, 1)),
     'give one of group, coefficients or matrix'),
    (dict(positive_classes=['a'], groop='b'), "unknown cost setting"),
    (dict(group='a'), 'cost.positive_classes is not set'),
])
def test_bad_cost_settings_are_refused(cost, message):
    with pytest.raises(ConfigSettingError, match=message):
        cost_spec(cost)


def test_coefficients_alone_drop_the_default_group():
    spec = cost_spec(dict(positive_classes=['a'], coefficients=(4, 3, 2, 1)))
    assert spec['group'] is None and spec['coefficients'] == (4, 3, 2, 1)


def test_cost_stated_in_the_loss_too_is_a_contradiction():
    cfg = Config.fromfile(str(CONFIGS / 'cs_yolov5_neu.py'))
    cfg.model.bbox_head.loss_cls.group = 'c'
    with pytest.raises(ConfigSettingError, match='contradicts cost.group'):
        resolve_config(cfg)


def test_resolution_is_idempotent():
    cfg = load('cs_yolov5_neu_quick.py')
    before = cfg.to_dict()
    assert resolve_config(cfg).to_dict() == before


# ---------------------------------------------------------------- size --
@pytest.mark.parametrize('size', [320, 640])
def test_img_size_reaches_every_pipeline_step_and_the_head(size):
    cfg = load('cs_yolov5_neu_quick.py', img_size=size)
    mosaic, = steps(cfg, 'YOLOv5Mosaic', 'train_dataloader')
    perspective, = steps(cfg, 'YOLOv5RandomPerspective', 'train_dataloader')
    assert mosaic['img_scale'] == size
    assert tuple(perspective['border']) == (-size // 2, -size // 2)
    letterboxes = steps(cfg, 'LetterBox')
    assert len(letterboxes) >= 2  # val and test loaders
    assert all(step['scale'] == size for step in letterboxes)
    assert cfg.model.bbox_head.imgsz == size


def test_img_size_reaches_resize_and_ssd_anchors():
    cfg = load('ssd300_neu.py', img_size=320)
    assert all(tuple(step['scale']) == (320, 320)
               for step in steps(cfg, 'Resize'))
    assert cfg.model.bbox_head.anchor_generator.input_size == 320


def test_yolov5_img_size_must_be_a_stride_multiple():
    with pytest.raises(ConfigSettingError, match='not a multiple of 32.*use 320'):
        load('yolov5_neu.py', img_size=321)


def test_a_size_field_img_size_cannot_reach_is_refused():
    cfg = Config.fromfile(str(CONFIGS / 'yolov5_neu.py'))
    cfg.train_dataloader.dataset.pipeline.insert(
        0, dict(type='RandomCrop', crop_size=(96, 96)))
    with pytest.raises(ConfigSettingError, match='RandomCrop'):
        resolve_config(cfg)


# ---------------------------------------------------------------- data --
def test_data_settings_reach_every_split_and_coco_metric():
    cfg = load('yolov5_neu.py', data_root='elsewhere/',
               val_ann_file='annotations/val.json')
    for split, ann in (('train', 'train'), ('val', 'val'), ('test', 'test')):
        dataset = innermost_dataset(cfg[f'{split}_dataloader'])
        assert dataset['data_root'] == 'elsewhere/'
        assert dataset['ann_file'] == f'annotations/{ann}.json'
        assert dataset['type'] == 'NEUDETDataset'
        assert tuple(dataset['metainfo']['classes']) == NEU_DET_CLASSES
    coco = {split: [m for m in cfg[f'{split}_evaluator']
                    if m['type'] == 'CocoMetric'][0]
            for split in ('val', 'test')}
    assert coco['val']['ann_file'] == 'elsewhere/annotations/val.json'
    assert coco['test']['ann_file'] == 'elsewhere/annotations/test.json'


def test_classes_come_from_the_train_file_in_id_order(tmp_path):
    write_coco(tmp_path / 'annotations' / 'train.json',
               [(7, 'scratch'), (2, 'dent'), (5, 'rust')])
    cfg = load('custom/cs_yolov5_custom.py', data_root=str(tmp_path) + '/',
               **{'cost.positive_classes': ['rust']})
    assert cfg.classes == ('dent', 'rust', 'scratch')
    assert cfg.model.bbox_head.num_classes == 3
    assert tuple(cfg.model.bbox_head.loss_cls.classes) == cfg.classes


def test_missing_train_file_for_classes_names_it(tmp_path):
    with pytest.raises(ConfigSettingError, match='train.json'):
        load('custom/yolov5_custom.py', data_root=str(tmp_path) + '/')


def test_num_classes_follows_classes_but_not_the_rpn():
    cfg = load('faster-rcnn_r50_fpn_neu.py', classes=['a', 'b', 'c'],
               **{'cost.positive_classes': ['a']})
    assert cfg.model.roi_head.bbox_head.num_classes == 3
    assert 'num_classes' not in cfg.model.rpn_head  # RPN: 1 class


def test_tools_report_setting_errors_with_the_config_path():
    path = str(CONFIGS / 'yolov5_neu.py')
    with pytest.raises(UserInputError, match='yolov5_neu.py.*img_size'):
        load_config(path, dict(img_size=100))


# ------------------------------------------------------------ template --
def count_settings(path: Path) -> int:
    lines = [line.split('#')[0].strip() for line in path.read_text().split(
        '\n')]
    return sum(1 for line in lines if line)


@pytest.mark.parametrize('name', ['yolov5_custom.py', 'cs_yolov5_custom.py',
                                  'cs_ssd300_custom.py',
                                  'cs_faster-rcnn_r50_fpn_custom.py'])
def test_custom_templates_are_short(name):
    assert count_settings(CONFIGS / 'custom' / name) <= 15


def test_miss_and_false_alarm_costs_reach_decisions_only():
    cfg = load('cs_yolov5_neu.py', **{'cost.missed_cost': 0.5,
                                      'cost.false_alarm_cost': [1] * 6})
    losses, _ = cost_consumers(cfg)
    assert 'missed_cost' not in losses[0]
    decision = steps(cfg, 'DecisionCostMetric', 'test_evaluator')
    assert decision and all(node['missed_cost'] == 0.5 and
                            node['false_alarm_cost'] == [1] * 6
                            for node in decision)
    assert all('missed_cost' not in node
               for node in steps(cfg, 'CostMetric', 'test_evaluator'))


def test_positive_cost_metric_brings_its_hook_once(repo_root):
    cfg = load_resolved(str(repo_root / 'configs' / 'yolov5_neu_quick.py'))
    hooks = [hook['type'] for hook in cfg.custom_hooks]
    assert hooks.count('LossPositivesHook') == 1
    resolve_config(cfg)  # idempotent
    assert [hook['type'] for hook in cfg.custom_hooks] == hooks
    cfg.val_evaluator = [e for e in cfg.val_evaluator
                         if e['type'] != 'PositiveCostMetric']
    cfg.test_evaluator = cfg.val_evaluator
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] != 'LossPositivesHook']
    resolve_config(cfg)
    assert 'LossPositivesHook' not in [h['type'] for h in cfg.custom_hooks]


# ------------------------------------------------------------- collate --
def test_compact_collate_needs_the_stacked_data_preprocessor():
    cfg = load('yolov5_neu_quick.py')
    assert cfg.train_dataloader.collate_fn == dict(type='compact_collate')
    cfg.model.data_preprocessor.type = 'DetDataPreprocessor'
    with pytest.raises(ConfigSettingError,
                       match="train_dataloader.collate_fn is compact_collate"
                       ".*'DetDataPreprocessor'.*pseudo_collate"):
        resolve_config(cfg)
    cfg.train_dataloader.collate_fn = dict(type='pseudo_collate')
    resolve_config(cfg)  # the plain pair is fine
