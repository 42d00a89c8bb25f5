"""Settings stated once at a config's top level, resolved into every place
that needs them.

mmengine resolves a base file's variables when the base is read, so a child
config that only redefines ``data_root`` or ``img_size`` would change
nothing below it. :func:`resolve_config` runs after loading (and after
``--cfg-options``) and writes these top-level keys into the fields that
consume them:

================  ===========================================================
key               written into
================  ===========================================================
dataset_type      ``type`` of each split's innermost dataset
data_root         ``data_root`` of each split's dataset; CocoMetric ann_file
train_ann_file    the train dataset's ``ann_file``
val_ann_file      the val dataset and val CocoMetric (None: test_ann_file)
test_ann_file     the test dataset and test CocoMetric
classes           every dataset's ``metainfo.classes``, ``num_classes`` of
                  every ``bbox_head``, every CostSensitiveLoss. None: the
                  dataset class's own classes, else the train annotation
                  file's categories in id order
img_size          the size field of every pipeline step and model part in
                  :data:`SIZE_FIELDS`
cost              every CostSensitiveLoss and every cost metric (see
                  :func:`cost_spec`); missed_cost / false_alarm_cost only
                  the decision metrics and rules
================  ===========================================================

A key that is absent leaves its fields as the config wrote them. An
evaluator with a ``PositiveCostMetric`` also gets its ``LossPositivesHook``
in ``custom_hooks``.
"""
from __future__ import annotations

import copy
import json
import os.path as osp
from typing import Any, Callable, Dict, Iterator, List, Optional

from mmengine.config import Config

SPLITS = ('train', 'val', 'test')

#: Keys of the top-level ``cost`` dict, with their defaults.
COST_DEFAULTS: Dict[str, Any] = dict(
    positive_classes=None,  # names of the costly (positive) classes
    group='a',  # paper Table 1 preset; or coefficients=...; or matrix=...
    coefficients=None,  # (lambda_NP, lambda_PN, lambda_NN, lambda_PP)
    matrix=None,  # explicit N x N matrix or a .json / .csv path
    normalize='max',  # 'max' | 'sum' | 'none'
    ratio=0.75,  # r = lambda_cost / lambda_cls (paper Sec. 3.6)
    # Deployment only (decision metric and rules), in matrix units after
    # normalisation: a number or one per class; None = background priced
    # as one more negative class (csdet.cost.decision).
    missed_cost=None,
    false_alarm_cost=None,
)

#: Pipeline steps and model parts whose size follows ``img_size`` (s).
SIZE_FIELDS: Dict[str, Callable[[int], dict]] = {
    'YOLOv5Mosaic': lambda s: dict(img_scale=s),
    'YOLOv5RandomPerspective': lambda s: dict(border=(-(s // 2), -(s // 2))),
    'LetterBox': lambda s: dict(scale=s),
    'Resize': lambda s: dict(scale=(s, s)),
    'YOLOv5Head': lambda s: dict(imgsz=s),
    'SSDAnchorGenerator': lambda s: dict(input_size=s),
}
# Fields that hold an image size in steps img_size cannot reach.
_SIZE_LIKE_KEYS = ('scale', 'img_scale', 'crop_size', 'input_size')


class ConfigSettingError(ValueError):
    """A top-level setting is missing, unknown or contradicted below."""


def type_name(node: Any) -> str:
    """``'mmdet.Resize'`` -> ``'Resize'``; '' when ``node`` has no type."""
    value = node.get('type', '') if isinstance(node, dict) else ''
    return value.split('.')[-1] if isinstance(value, str) else ''


def walk_dicts(node: Any, path: str = '') -> Iterator[tuple]:
    """Yield ``(path, dict)`` for every dict below ``node``, depth first."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk_dicts(value, f'{path}.{key}' if path else key)
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from walk_dicts(value, f'{path}.{index}')


def innermost_dataset(loader: dict) -> dict:
    """The dataset a loader reads, through wrappers such as
    MultiImageMixDataset (their ``dataset`` field)."""
    dataset = loader['dataset']
    while isinstance(dataset.get('dataset'), dict):
        dataset = dataset['dataset']
    return dataset


def split_ann_file(cfg: Config, split: str) -> Optional[str]:
    """The annotation file a split reads, per the top-level keys."""
    if split == 'val' and cfg.get('val_ann_file') is None:
        return cfg.get('test_ann_file')
    return cfg.get(f'{split}_ann_file')


def _loaders(cfg: Config) -> Dict[str, dict]:
    # `test_dataloader = val_dataloader` in a config file may leave both
    # names on one object; split them so each can take its own ann_file.
    if cfg.get('val_dataloader') and (cfg.get('test_dataloader')
                                      is cfg.get('val_dataloader')):
        cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
    return {split: cfg[f'{split}_dataloader'] for split in SPLITS
            if cfg.get(f'{split}_dataloader')}


def _evaluators(cfg: Config, split: str) -> List[dict]:
    if split == 'train':
        return []
    evaluator = cfg.get(f'{split}_evaluator')
    if evaluator is None:
        return []
    if cfg.get('val_evaluator') and (cfg.get('test_evaluator')
                                     is cfg.get('val_evaluator')):
        cfg.test_evaluator = copy.deepcopy(cfg.val_evaluator)
        evaluator = cfg.get(f'{split}_evaluator')
    return [node for _, node in walk_dicts(evaluator) if type_name(node)]


def _set_checked(node: dict, key: str, value: Any, where: str,
                 source: str) -> None:
    """Set ``node[key]``; refuse a different value stated there."""
    if key in node and node[key] is not None and _plain(
            node[key]) != _plain(value):
        raise ConfigSettingError(
            f'{where}.{key} = {node[key]!r} contradicts {source} = '
            f'{value!r}. State it once, in `{source.split(".")[0]}`, and '
            f'remove it from {where}.')
    node[key] = value


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- data ----
def apply_data_settings(cfg: Config) -> None:
    """dataset_type, data_root and the split annotation files."""
    for split, loader in _loaders(cfg).items():
        dataset = innermost_dataset(loader)
        if cfg.get('dataset_type'):
            dataset['type'] = cfg.dataset_type
        if 'data_root' in cfg:
            dataset['data_root'] = cfg.data_root
        ann_file = split_ann_file(cfg, split)
        if ann_file:
            dataset['ann_file'] = ann_file
        for metric in _evaluators(cfg, split):
            if _is_coco_metric(metric) and ann_file:
                metric['ann_file'] = osp.join(cfg.get('data_root') or '',
                                              ann_file)


def _is_coco_metric(node: dict) -> bool:
    from mmdet.evaluation import CocoMetric
    from mmdet.registry import METRICS
    cls = METRICS.get(node['type']) if node.get('type') else None
    return isinstance(cls, type) and issubclass(cls, CocoMetric)


def read_categories(ann_file: str) -> tuple:
    """Category names of a COCO file in category-id order."""
    if not osp.isfile(ann_file):
        raise ConfigSettingError(
            f'classes are not set and the train annotation file {ann_file} '
            'to read them from does not exist: convert the dataset first '
            '(tools/dataset_converters/) or set classes=(...) in the config.')
    try:
        with open(ann_file) as f:
            categories = json.load(f)['categories']
        ordered = sorted(categories, key=lambda cat: cat['id'])
        return tuple(cat['name'] for cat in ordered)
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigSettingError(
            f'{ann_file}: cannot read its COCO categories ({error}); check '
            'the file or set classes=(...) in the config.') from None


def resolve_classes(cfg: Config) -> tuple:
    """``cfg.classes``, else the dataset class's, else the train file's."""
    if cfg.get('classes'):
        classes = cfg.classes
        if isinstance(classes, str):
            raise ConfigSettingError(
                f'classes must be a list of names, got the string {classes!r}')
        return tuple(classes)
    loader = cfg.get('train_dataloader') or cfg.get('test_dataloader')
    if not loader:
        raise ConfigSettingError('set classes=(...): the config has no '
                                 'dataset to read them from')
    dataset = innermost_dataset(loader)
    from mmdet.registry import DATASETS
    dataset_cls = DATASETS.get(dataset.get('type', ''))
    builtin = getattr(dataset_cls, 'METAINFO', {}).get('classes')
    if builtin and getattr(dataset_cls, 'FIXED_CLASSES', False):
        return tuple(builtin)
    return read_categories(osp.join(dataset.get('data_root') or '',
                                    dataset.get('ann_file') or ''))


def apply_classes(cfg: Config) -> None:
    """Class names into the datasets, the heads' num_classes, the losses."""
    classes = resolve_classes(cfg)
    if len(set(classes)) != len(classes):
        raise ConfigSettingError(f'classes has duplicates: {list(classes)}')
    cfg.classes = classes
    for loader in _loaders(cfg).values():
        dataset = innermost_dataset(loader)
        metainfo = dict(dataset.get('metainfo') or {})
        metainfo['classes'] = classes
        dataset['metainfo'] = metainfo
    for path, node in walk_dicts(cfg.get('model', {}), 'model'):
        if path.endswith('bbox_head') and 'num_classes' in node:
            node['num_classes'] = len(classes)


# ---------------------------------------------------------------- size ----
def apply_img_size(cfg: Config) -> None:
    """``img_size`` into every field listed in :data:`SIZE_FIELDS`."""
    size = cfg.get('img_size')
    if size is None:
        return
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ConfigSettingError(
            f'img_size must be a positive int (square size), got {size!r}')
    heads = [type_name(node) for _, node in walk_dicts(cfg.get('model', {}))]
    if 'YOLOv5Head' in heads and size % 32:
        raise ConfigSettingError(
            f'img_size={size} is not a multiple of 32, the largest YOLOv5 '
            f'stride; use {32 * max(1, round(size / 32))}')
    for path, node in walk_dicts(cfg._cfg_dict):
        name = type_name(node)
        if name in SIZE_FIELDS:
            node.update(SIZE_FIELDS[name](size))
        elif name and path.split('.')[0] != 'model':
            stuck = [key for key in _SIZE_LIKE_KEYS if key in node]
            if stuck:
                raise ConfigSettingError(
                    f'{path} ({name}) has {stuck[0]}={node[stuck[0]]!r}, '
                    'which img_size cannot set; give it a size yourself and '
                    'remove img_size, or use a step from csdet.utils.config.'
                    'SIZE_FIELDS.')


# ---------------------------------------------------------------- cost ----
def cost_spec(cost: Optional[dict]) -> dict:
    """The top-level ``cost`` dict merged over :data:`COST_DEFAULTS`,
    checked for unknown keys and for more than one matrix source."""
    cost = dict(cost or {})
    unknown = sorted(set(cost) - set(COST_DEFAULTS))
    if unknown:
        raise ConfigSettingError(
            f'unknown cost setting(s) {unknown}; cost takes '
            f'{sorted(COST_DEFAULTS)}')
    spec = dict(COST_DEFAULTS, **cost)
    if spec['matrix'] is not None or spec['coefficients'] is not None:
        if 'group' not in cost:
            spec['group'] = None  # the default group yields to the others
    given = [key for key in ('group', 'coefficients', 'matrix')
             if spec[key] is not None]
    if len(given) > 1:
        raise ConfigSettingError(
            f'cost sets {given}: give one of group, coefficients or matrix '
            f'and set the others to None (e.g. --cfg-options '
            f'cost.{given[0]}=None)')
    if spec['matrix'] is None and not spec['positive_classes']:
        raise ConfigSettingError(
            'cost.positive_classes is not set: list the costly defect '
            "classes, e.g. cost = dict(positive_classes=['crack']), or give "
            'an explicit cost.matrix')
    if isinstance(spec['positive_classes'], str):
        spec['positive_classes'] = [spec['positive_classes']]
    return spec


def _matrix_kwargs(spec: dict) -> dict:
    """The cost-matrix arguments shared by the loss and the metrics."""
    return dict(
        positive_classes=(None if spec['positive_classes'] is None else
                          list(spec['positive_classes'])),
        group=spec['group'], coefficients=spec['coefficients'],
        cost_matrix=spec['matrix'], normalize=spec['normalize'])


def decision_cost_kwargs(spec: dict) -> dict:
    """The deployment-only settings of a :func:`cost_spec`."""
    return dict(missed_cost=spec['missed_cost'],
                false_alarm_cost=spec['false_alarm_cost'])


def _is_subclass(registry_name: str, node: dict, base: type) -> bool:
    from mmdet import registry
    cls = getattr(registry, registry_name).get(node['type'])
    return isinstance(cls, type) and issubclass(cls, base)


def apply_cost(cfg: Config) -> None:
    """The ``cost`` dict into every CostSensitiveLoss and cost metric."""
    from csdet.evaluation.metrics import BayesRelabelMetric
    from csdet.evaluation.metrics.base import CostSensitiveDetMetric
    from csdet.models.losses import CostSensitiveLoss

    losses = [(path, node)
              for path, node in walk_dicts(cfg.get('model', {}), 'model')
              if type_name(node) and _is_subclass('MODELS', node,
                                                  CostSensitiveLoss)]
    metrics = [(f'{split}_evaluator', node) for split in ('val', 'test')
               for node in _evaluators(cfg, split)
               if _is_subclass('METRICS', node, (CostSensitiveDetMetric,
                                                 BayesRelabelMetric))]
    if not losses and not metrics:
        return
    spec = cost_spec(cfg.get('cost'))
    cfg.cost = spec
    shared = _matrix_kwargs(spec)
    for path, node in losses:
        values = dict(shared, classes=list(cfg.classes),
                      cost_weight=spec['ratio'] * node.get('loss_weight', 1.0))
        for key, value in values.items():
            source = {'classes': 'classes',
                      'cost_weight': 'cost.ratio x loss_weight'}.get(
                          key, f'cost.{key}')
            _set_checked(node, key, value, path, source)
    from csdet.evaluation.metrics import DecisionCostMetric
    for path, node in metrics:
        values = dict(shared)
        if _is_subclass('METRICS', node, DecisionCostMetric):
            values.update(decision_cost_kwargs(spec))
        for key, value in values.items():
            _set_checked(node, key, value, path, f'cost.{key}')


def add_loss_positives_hook(cfg: Config) -> None:
    """``LossPositivesHook`` into ``custom_hooks`` when an evaluator has a
    ``PositiveCostMetric`` (the metric reads what the hook records)."""
    from csdet.evaluation.metrics import PositiveCostMetric
    needed = any(
        _is_subclass('METRICS', node, PositiveCostMetric)
        for split in ('val', 'test') for node in _evaluators(cfg, split))
    hooks = list(cfg.get('custom_hooks') or [])
    if needed and not any(
            type_name(hook) == 'LossPositivesHook' for hook in hooks):
        cfg.custom_hooks = hooks + [dict(type='LossPositivesHook')]


def check_collate(cfg: Config) -> None:
    """``compact_collate`` batches carry NumPy boxes that only
    ``StackedDetDataPreprocessor`` turns back into tensors: refuse another
    preprocessor with the fix, instead of a failure inside the loss."""
    from csdet.models.detectors import StackedDetDataPreprocessor
    preprocessor = (cfg.get('model') or {}).get('data_preprocessor')
    for split, loader in _loaders(cfg).items():
        if type_name(loader.get('collate_fn') or {}) != 'compact_collate':
            continue
        if preprocessor is None or not _is_subclass(
                'MODELS', preprocessor, StackedDetDataPreprocessor):
            raise ConfigSettingError(
                f'{split}_dataloader.collate_fn is compact_collate, which '
                'needs model.data_preprocessor type '
                "'StackedDetDataPreprocessor' (it is "
                f'{type_name(preprocessor or {})!r}); set that type or '
                "collate_fn=dict(type='pseudo_collate')")


def resolve_config(cfg: Config) -> Config:
    """Apply the top-level settings (module docstring); idempotent."""
    apply_data_settings(cfg)
    apply_classes(cfg)
    apply_img_size(cfg)
    apply_cost(cfg)
    add_loss_positives_hook(cfg)
    check_collate(cfg)
    return cfg


def load_resolved(path: str, cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile`` + ``--cfg-options`` + :func:`resolve_config`;
    also enters the config's registry scope (mmdet), so that its modules
    build by their short names."""
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    return resolve_config(cfg)


__all__ = ['COST_DEFAULTS', 'SIZE_FIELDS', 'ConfigSettingError',
           'cost_spec', 'innermost_dataset', 'load_resolved',
           'read_categories', 'resolve_config', 'split_ann_file',
           'type_name', 'walk_dicts']
