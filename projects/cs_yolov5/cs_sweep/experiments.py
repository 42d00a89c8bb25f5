"""Planning: the trainings and evaluations each paper experiment needs.

A :class:`Run` is one training (``tools/train.py``) plus its evaluations
(``tools/test.py``), each with ``--cfg-options``. Plain detectors do not
depend on the cost setting for training, only their cost metrics do, so a
plain model is trained once and evaluated under every setting's cost matrix
(and once more per setting with Bayes minimum-risk relabelling, the post-hoc
baseline). Cost-sensitive models are trained per setting.

Run names are derived from the training options alone, so two experiments
that need the same training (e.g. plain YOLOv5, seed 0) share one run
directory and train it once; evaluation names are derived from the cost
spec, so identical evaluations are shared too.
"""
from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

REPO_ROOT = Path(__file__).resolve().parents[3]

EXPERIMENTS = ('risk-groups', 'positive-classes', 'weight-ratio',
               'batch-size', 'detectors')
PAPER_GROUPS = ('a', 'b', 'c', 'd')  # paper Table 1 (values live in csdet)
# r = lambda_cost / lambda_cls = 0, 0.25, ..., 1.5 (paper Sec. 3.6); exact
# binary fractions, so cost_weight = r * loss_weight is exact too.
PAPER_RATIOS = tuple(step * 0.25 for step in range(7))
PAPER_BATCH_SIZES = (64, 128, 230)
PAPER_POSITIVE_COUNTS = (1, 2, 3, 4)

# Metric types that take the cost spec (csdet/evaluation/metrics), and those
# of them with the bayes_relabel switch.
COST_SPEC_METRICS = ('CostMetric', 'F1Metric', 'DecisionCostMetric',
                     'BayesRelabelMetric')
RELABEL_METRICS = ('CostMetric', 'F1Metric', 'DecisionCostMetric')


@dataclass(frozen=True)
class Detector:
    """One detector family: display names, config names, CS loss location."""
    key: str
    name: str
    base_config: str  # plain config file name; the CS twin is 'cs_' + it
    loss_key: str  # where CostSensitiveLoss sits in the config
    # the profile's epochs / batch size apply (YOLOv5: the paper's recipe);
    # SSD and Faster R-CNN keep their configs' own schedules.
    follows_profile: bool

    @property
    def cs_name(self) -> str:
        return f'CS-{self.name}'


# The one place that says where each detector keeps its class loss.
DETECTORS: Dict[str, Detector] = {
    'yolov5': Detector('yolov5', 'YOLOv5', 'yolov5_neu.py',
                       'model.bbox_head.loss_cls', True),
    'ssd': Detector('ssd', 'SSD300', 'ssd300_neu.py',
                    'model.bbox_head.loss_cls', False),
    'faster_rcnn': Detector('faster_rcnn', 'Faster R-CNN',
                            'faster-rcnn_r50_fpn_neu.py',
                            'model.roi_head.bbox_head.loss_cls', False),
}


@dataclass(frozen=True)
class Profile:
    """Schedule preset: config variant + epochs / batch overrides."""
    name: str
    config_suffix: str  # '_quick' picks configs/*_quick.py
    epochs: Optional[int]  # None: the config's own value
    batch_size: Optional[int]
    description: str


PROFILES: Dict[str, Profile] = {
    'paper': Profile('paper', '', 90, 230,
                     'paper recipe: 90 epochs, batch 230, 192 px (GPU)'),
    'quick': Profile('quick', '_quick', None, None,
                     'short CPU schedule of the *_quick.py configs'),
}


# ---------------------------------------------------------------------------
# settings
@dataclass(frozen=True)
class CostSetting:
    """Class-based cost spec: positive classes + a paper group (a-d)."""
    positive_classes: Tuple[str, ...]
    group: str = 'a'

    def options(self, prefix: str,
                current: Optional[dict] = None) -> Dict[str, Any]:
        """cfg-options that set this spec on a loss/metric at ``prefix``.

        ``current``: that entry in the config. Spec fields it sets that this
        spec does not use (an explicit ``cost_matrix``, ``coefficients``
        instead of a group) are set to None so they cannot mix with it."""
        options = {
            f'{prefix}.positive_classes': list(self.positive_classes),
            f'{prefix}.group': self.group,
        }
        for unused in ('cost_matrix', 'coefficients'):
            if (current or {}).get(unused) is not None:
                options[f'{prefix}.{unused}'] = None
        return options

    def tag(self, classes: Sequence[str]) -> str:
        """Short name, e.g. 'ga-p1235' (positive class indices)."""
        indices = sorted(classes.index(name) for name in self.positive_classes)
        sep = '.' if len(classes) > 10 else ''
        return f'g{self.group}-p' + sep.join(str(i) for i in indices)


@dataclass(frozen=True)
class Setting:
    """One value of the experiment's variable (one paper table row)."""
    key: str  # unique within the experiment, e.g. 'b', 'k2-1', 'r0.25'
    label: str
    cost: CostSetting
    detector: str = 'yolov5'
    weight_ratio: Optional[float] = None
    batch_size: Optional[int] = None
    num_positives: Optional[int] = None
    pick_seed: Optional[int] = None


@dataclass(frozen=True)
class Evaluation:
    """One tools/test.py call on a trained run."""
    name: str  # directory name inside the run
    setting: Setting
    bayes_relabel: bool
    options: Dict[str, Any] = field(hash=False, compare=False)


@dataclass
class Run:
    """One training and the evaluations of it this experiment needs."""
    run_id: int
    name: str
    experiment: str
    detector: str
    cost_sensitive: bool
    config: str
    seed: int
    train_options: Dict[str, Any]
    evaluations: List[Evaluation]
    cost_weight: Optional[float] = None
    weight_ratio: Optional[float] = None  # cost_weight / loss_weight (CS)
    batch_size: Optional[int] = None
    epochs: Optional[int] = None

    @property
    def model(self) -> str:
        detector = DETECTORS[self.detector]
        return detector.cs_name if self.cost_sensitive else detector.name


@dataclass
class PlanOptions:
    """Everything planning depends on (the sweep CLI fills it)."""
    profile: str = 'paper'
    base_config: Optional[str] = None  # plain YOLOv5 config
    cs_config: Optional[str] = None  # default: cs_<base name> beside it
    seeds: Sequence[int] = (0, )
    groups: Sequence[str] = PAPER_GROUPS
    positive_counts: Sequence[int] = PAPER_POSITIVE_COUNTS
    repeats: int = 3
    pick_seed: int = 0
    ratios: Sequence[float] = PAPER_RATIOS
    batch_sizes: Sequence[int] = PAPER_BATCH_SIZES
    detectors: Sequence[str] = tuple(DETECTORS)
    positive_classes: Optional[Sequence[str]] = None  # default: CS config's
    classes: Optional[Sequence[str]] = None  # default: from the configs
    extra_options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    experiment: str
    profile: str
    classes: Tuple[str, ...]
    positive_classes: Tuple[str, ...]
    settings: List[Setting]
    runs: List[Run]

    def to_json(self) -> dict:
        return dict(
            experiment=self.experiment,
            profile=self.profile,
            classes=list(self.classes),
            positive_classes=list(self.positive_classes),
            settings=[setting_json(s) for s in self.settings],
            runs=[run_json(r) for r in self.runs])


def setting_json(setting: Setting) -> dict:
    return dict(
        key=setting.key,
        label=setting.label,
        positive_classes=list(setting.cost.positive_classes),
        group=setting.cost.group,
        detector=setting.detector,
        weight_ratio=setting.weight_ratio,
        batch_size=setting.batch_size,
        num_positives=setting.num_positives,
        pick_seed=setting.pick_seed)


def run_json(run: Run) -> dict:
    return dict(
        run_id=run.run_id,
        name=run.name,
        model=run.model,
        detector=run.detector,
        cost_sensitive=run.cost_sensitive,
        config=run.config,
        seed=run.seed,
        cost_weight=run.cost_weight,
        weight_ratio=run.weight_ratio,
        batch_size=run.batch_size,
        epochs=run.epochs,
        train_options=run.train_options,
        evaluations=[
            dict(name=e.name, setting=e.setting.key,
                 bayes_relabel=e.bayes_relabel, options=e.options)
            for e in run.evaluations
        ])


# ---------------------------------------------------------------------------
# config inspection (mmengine's Config, without importing csdet)
@dataclass
class ConfigInfo:
    """What the planner needs to know about one config file."""
    path: str
    classes: Optional[Tuple[str, ...]]
    loss: Optional[dict]
    # (option prefix, metric type, the metric's config dict)
    test_metrics: List[Tuple[str, str, dict]]
    val_metrics: List[Tuple[str, str, dict]]
    batch_size: Optional[int]
    epochs: Optional[int]


def _lookup(cfg: Any, dotted_key: str) -> Any:
    node = cfg
    for part in dotted_key.split('.'):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _type_name(metric: dict) -> str:
    kind = metric.get('type', '')
    kind = kind if isinstance(kind, str) else getattr(kind, '__name__', '')
    return kind.rsplit('.', 1)[-1]


def _cost_metric_prefixes(evaluator: Any,
                          root: str) -> List[Tuple[str, str, dict]]:
    """Option prefixes of the cost-spec metrics in an evaluator config
    (a metric dict, a list of them, or dict(type='Evaluator', metrics=...))."""
    if evaluator is None:
        return []
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        return _cost_metric_prefixes(evaluator['metrics'], f'{root}.metrics')
    if isinstance(evaluator, dict):
        items = [(root, evaluator)]
    else:
        items = [(f'{root}.{index}', metric)
                 for index, metric in enumerate(evaluator)]
    return [(prefix, _type_name(metric), dict(metric))
            for prefix, metric in items if isinstance(metric, dict)
            and _type_name(metric) in COST_SPEC_METRICS]


def _dataset_classes(cfg: Any) -> Optional[Tuple[str, ...]]:
    for split in ('test', 'val', 'train'):
        dataset = _lookup(cfg, f'{split}_dataloader.dataset')
        while isinstance(dataset, dict):
            classes = _lookup(dataset, 'metainfo.classes')
            if classes:
                return tuple(classes)
            dataset = dataset.get('dataset')
    for key in ('metainfo.classes', 'classes', 'class_names'):
        classes = _lookup(cfg, key)
        if classes and not isinstance(classes, str):
            return tuple(classes)
    return None


def inspect_config(path: str, loss_key: str) -> ConfigInfo:
    """Read the fields the planner needs from a config file."""
    from mmengine.config import Config

    if not Path(path).is_file():
        raise FileNotFoundError(
            f'config not found: {path}. Pick the configs with --base-config '
            '(plain YOLOv5; its CS twin is cs_<name> in the same folder) or '
            '--cs-config; --profile quick uses the *_quick.py variants.')
    cfg = Config.fromfile(path, import_custom_modules=False).to_dict()
    loss = _lookup(cfg, loss_key)
    loss = dict(loss) if isinstance(loss, dict) else None
    classes = tuple(loss['classes']) if loss and loss.get('classes') else None
    return ConfigInfo(
        path=str(path),
        classes=classes or _dataset_classes(cfg),
        loss=loss,
        test_metrics=_cost_metric_prefixes(cfg.get('test_evaluator'),
                                           'test_evaluator'),
        val_metrics=_cost_metric_prefixes(cfg.get('val_evaluator'),
                                          'val_evaluator'),
        batch_size=_lookup(cfg, 'train_dataloader.batch_size'),
        epochs=_lookup(cfg, 'train_cfg.max_epochs'))


def config_path(name: str, profile: Profile, folder: Path) -> str:
    """``folder/name`` with the profile's suffix (yolov5_neu.py ->
    yolov5_neu_quick.py), unless the name already carries it."""
    stem = name[:-3] if name.endswith('.py') else name
    if profile.config_suffix and not stem.endswith(profile.config_suffix):
        stem += profile.config_suffix
    return str(folder / f'{stem}.py')


# ---------------------------------------------------------------------------
# option building
def format_option(value: Any) -> str:
    """Render a value the way mmengine's DictAction parses it back."""
    if value is None:
        return 'None'
    if isinstance(value, bool):
        return 'True' if value else 'False'
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(format_option(v) for v in value) + ']'
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if any(char in text for char in ' ,[]()"\''):
        raise ValueError(f'cannot pass {text!r} through --cfg-options '
                         '(spaces, commas, brackets and quotes are not '
                         'supported in values)')
    return text


def options_to_args(options: Dict[str, Any]) -> List[str]:
    return [f'{key}={format_option(value)}' for key, value in options.items()]


def parse_option_strings(items: Sequence[str]) -> Dict[str, Any]:
    """``['k=v', ...]`` -> dict, parsed exactly as the tools will parse it
    (mmengine's DictAction)."""
    if not items:
        return {}
    import argparse

    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--o', nargs='+', action=DictAction)
    return dict(parser.parse_args(['--o', *items]).o)


def pick_positive_sets(classes: Sequence[str], count: int, repeats: int,
                       seed: int) -> List[Tuple[str, ...]]:
    """``repeats`` distinct random sets of ``count`` positive classes
    (fewer when fewer exist), reproducible from ``seed``."""
    if not 1 <= count < len(classes):
        raise ValueError(f'number of positive classes must be in [1, '
                         f'{len(classes) - 1}], got {count}')
    combos = list(itertools.combinations(classes, count))
    return random.Random(seed).sample(combos, min(repeats, len(combos)))


def pick_seed_for(base_seed: int, count: int) -> int:
    """Seed of the random picks of ``count`` positive classes."""
    return base_seed * 1000 + count


# ---------------------------------------------------------------------------
# the planner
class Planner:
    """Turns PlanOptions into Runs for one experiment."""

    def __init__(self, experiment: str, options: PlanOptions):
        if experiment not in EXPERIMENTS:
            raise ValueError(f'unknown experiment {experiment!r}; choose '
                             f'one of {", ".join(EXPERIMENTS)}')
        if options.profile not in PROFILES:
            raise ValueError(f'unknown profile {options.profile!r}; choose '
                             f'one of {", ".join(PROFILES)}')
        self.experiment = experiment
        self.options = options
        self.profile = PROFILES[options.profile]
        base = Path(options.base_config or REPO_ROOT / 'configs' /
                    DETECTORS['yolov5'].base_config)
        self.config_dir = base.parent
        self.base_config = config_path(base.name, self.profile, base.parent)
        self.cs_config = (options.cs_config or config_path(
            'cs_' + base.name, self.profile, base.parent))
        self._infos: Dict[str, ConfigInfo] = {}
        self.runs: List[Run] = []
        self._run_index: Dict[str, Run] = {}

    # configs -------------------------------------------------------------
    def configs(self, detector: str) -> Tuple[str, str]:
        """(plain config, CS config) paths of a detector."""
        if detector == 'yolov5':
            return self.base_config, self.cs_config
        spec = DETECTORS[detector]
        return (config_path(spec.base_config, self.profile, self.config_dir),
                config_path('cs_' + spec.base_config, self.profile,
                            self.config_dir))

    def info(self, path: str, detector: str) -> ConfigInfo:
        if path not in self._infos:
            info = inspect_config(path, DETECTORS[detector].loss_key)
            if not info.test_metrics:
                raise ValueError(
                    f'{path}: test_evaluator has no cost metric '
                    f'({", ".join(COST_SPEC_METRICS)}); the sweep sets the '
                    'cost spec on those metrics')
            self._infos[path] = info
        return self._infos[path]

    def cs_loss(self, detector: str) -> dict:
        path = self.configs(detector)[1]
        loss = self.info(path, detector).loss
        if not loss or _type_name(loss) != 'CostSensitiveLoss':
            raise ValueError(
                f'{path}: {DETECTORS[detector].loss_key} is not a '
                'CostSensitiveLoss; give the cost-sensitive config with '
                '--cs-config')
        return loss

    def classes(self) -> Tuple[str, ...]:
        if self.options.classes:
            return tuple(self.options.classes)
        classes = self.info(self.cs_config, 'yolov5').classes
        if not classes:
            raise ValueError(
                f'{self.cs_config}: no class names found (loss_cls.classes '
                'or the datasets\' metainfo.classes); pass --classes')
        return classes

    def paper_positives(self) -> Tuple[str, ...]:
        positives = (self.options.positive_classes
                     or self.cs_loss('yolov5').get('positive_classes'))
        if not positives:
            raise ValueError(f'{self.cs_config}: loss_cls has no '
                             'positive_classes; pass --positive-classes')
        positives = (positives, ) if isinstance(positives, str) else positives
        unknown = sorted(set(positives) - set(self.classes()))
        if unknown:
            raise ValueError(f'positive classes {unknown} are not among the '
                             f'dataset classes {list(self.classes())}')
        return tuple(positives)

    # runs ----------------------------------------------------------------
    def evaluation(self, setting: Setting, detector: str, config: str,
                   bayes_relabel: bool) -> Evaluation:
        info = self.info(config, detector)
        options: Dict[str, Any] = {}
        for prefix, kind, current in info.test_metrics:
            options.update(setting.cost.options(prefix, current))
            if bayes_relabel and kind in RELABEL_METRICS:
                options[f'{prefix}.bayes_relabel'] = True
        options.update(self.options.extra_options)
        name = setting.cost.tag(list(self.classes()))
        return Evaluation(name + ('-bayes' if bayes_relabel else ''),
                          setting, bayes_relabel, options)

    def cost_options(self, setting: Setting, info: ConfigInfo) -> tuple:
        """Training options of a CS model: the setting's cost spec on the
        loss and the validation metrics, and the weight ratio. Returns
        (options, run-name tags, cost_weight, weight ratio)."""
        detector = DETECTORS[setting.detector]
        loss = self.cs_loss(setting.detector)
        classes = list(self.classes())
        options = setting.cost.options(detector.loss_key, loss)
        if not loss.get('classes'):
            options[f'{detector.loss_key}.classes'] = classes
        tags = [setting.cost.tag(classes)]
        loss_weight = loss.get('loss_weight', 1.0)
        cost_weight = loss.get('cost_weight', 1.0)
        # r = lambda_cost / lambda_cls (paper Sec. 3.6). The config's own
        # ratio adds no option and no tag, so it shares the default run
        # (e.g. weight-ratio r = 0.75 is risk-groups' group a training).
        if (setting.weight_ratio is not None
                and setting.weight_ratio * loss_weight != cost_weight):
            cost_weight = setting.weight_ratio * loss_weight
            options[f'{detector.loss_key}.cost_weight'] = cost_weight
            tags.append(f'r{setting.weight_ratio:g}')
        ratio = (setting.weight_ratio if setting.weight_ratio is not None
                 else cost_weight / loss_weight if loss_weight else None)
        # validation during training scores the model's own cost spec
        for prefix, _, current in info.val_metrics:
            options.update(setting.cost.options(prefix, current))
        return options, tags, cost_weight, ratio

    def add_run(self, setting: Setting, cost_sensitive: bool, seed: int,
                eval_settings: Sequence[Setting]) -> Run:
        """Plan a training for ``setting`` (its cost spec only matters for
        CS models) evaluated under ``eval_settings`` (plain models: also
        with Bayes relabelling)."""
        detector = DETECTORS[setting.detector]
        config = self.configs(setting.detector)[int(cost_sensitive)]
        info = self.info(config, setting.detector)
        options: Dict[str, Any] = {'randomness.seed': seed}
        epochs = self.profile.epochs if detector.follows_profile else None
        if epochs is not None:
            options['train_cfg.max_epochs'] = epochs
        batch = setting.batch_size or (self.profile.batch_size
                                       if detector.follows_profile else None)
        if batch is not None:
            options['train_dataloader.batch_size'] = batch
        name = [setting.detector, 'cs' if cost_sensitive else 'plain']
        cost_weight = weight_ratio = None
        if cost_sensitive:
            cs_options, tags, cost_weight, weight_ratio = self.cost_options(
                setting, info)
            options.update(cs_options)
            name += tags
        if batch is not None:
            name.append(f'bs{batch}')
        name.append(f'seed{seed}')
        options.update(self.options.extra_options)
        evaluations = [
            self.evaluation(s, setting.detector, config, relabel)
            for s in eval_settings
            for relabel in ((False, ) if cost_sensitive else (False, True))
        ]
        run = Run(
            run_id=len(self.runs),
            name='-'.join(name),
            experiment=self.experiment,
            detector=setting.detector,
            cost_sensitive=cost_sensitive,
            config=config,
            seed=seed,
            train_options=options,
            evaluations=evaluations,
            cost_weight=cost_weight,
            weight_ratio=weight_ratio,
            batch_size=batch or info.batch_size,
            epochs=epochs or info.epochs)
        if run.name in self._run_index:
            raise ValueError(f'two runs named {run.name} in one plan')
        names = [e.name for e in evaluations]
        if len(set(names)) != len(names):
            raise ValueError(f'{run.name}: two evaluations share a name '
                             f'({names}); the settings repeat a cost spec')
        self._run_index[run.name] = run
        self.runs.append(run)
        return run

    # experiments ---------------------------------------------------------
    def settings(self) -> List[Setting]:
        paper = CostSetting(self.paper_positives(), 'a')
        if self.experiment == 'risk-groups':
            for group in self.options.groups:
                if group not in PAPER_GROUPS:
                    raise ValueError(f'unknown group {group!r}; choose from '
                                     f'{PAPER_GROUPS}')
            return [
                Setting(group, f'group {group}',
                        CostSetting(paper.positive_classes, group))
                for group in self.options.groups
            ]
        if self.experiment == 'positive-classes':
            settings = []
            for count in self.options.positive_counts:
                seed = pick_seed_for(self.options.pick_seed, count)
                picks = pick_positive_sets(self.classes(), count,
                                           self.options.repeats, seed)
                for index, positives in enumerate(picks, 1):
                    settings.append(
                        Setting(f'k{count}-{index}',
                                f'{count} positive: ' + ', '.join(positives),
                                CostSetting(positives, 'a'),
                                num_positives=count, pick_seed=seed))
            return settings
        if self.experiment == 'weight-ratio':
            return [
                Setting(f'r{ratio:g}', f'r = {ratio:g}', paper,
                        weight_ratio=float(ratio))
                for ratio in self.options.ratios
            ]
        if self.experiment == 'batch-size':
            return [
                Setting(f'bs{batch}', f'batch {batch}', paper,
                        batch_size=int(batch))
                for batch in self.options.batch_sizes
            ]
        for detector in self.options.detectors:
            if detector not in DETECTORS:
                raise ValueError(f'unknown detector {detector!r}; choose '
                                 f'from {", ".join(DETECTORS)}')
        return [
            Setting(key, DETECTORS[key].name, paper, detector=key)
            for key in self.options.detectors
        ]

    def plan(self) -> Plan:
        settings = self.settings()
        seeds = list(self.options.seeds)
        if self.experiment in ('risk-groups', 'positive-classes'):
            # plain model: trained once, evaluated under every cost setting
            for seed in seeds:
                self.add_run(settings[0], False, seed, settings)
        elif self.experiment == 'weight-ratio':
            reference = Setting('plain', 'no cost term',
                                settings[0].cost)
            for seed in seeds:
                self.add_run(reference, False, seed, [reference])
        else:  # batch-size, detectors: the plain training differs per setting
            for setting in settings:
                for seed in seeds:
                    self.add_run(setting, False, seed, [setting])
        for setting in settings:
            for seed in seeds:
                self.add_run(setting, True, seed, [setting])
        return Plan(self.experiment, self.profile.name, self.classes(),
                    self.paper_positives(), settings, self.runs)


def plan_experiment(experiment: str, options: PlanOptions) -> Plan:
    """The runs of one experiment (see the module docstring)."""
    return Planner(experiment, options).plan()


def write_plan(plan: Plan, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan.to_json(), indent=2))
