"""Planning: the trainings and evaluations each paper experiment needs.

A :class:`Run` is one training (``tools/train.py``) plus its evaluations
(``tools/test.py``), each with ``--cfg-options``. The cost setting is passed
only through the configs' top-level ``cost`` dict (``cost.positive_classes``,
``cost.group``, ``cost.ratio``, ...), which csdet writes into every
CostSensitiveLoss and cost metric when a config is loaded
(:mod:`csdet.utils.config`), so the sweep needs to know nothing about where
a detector keeps its class loss. Plain detectors do not depend on the cost
setting for training, only their cost metrics do, so a plain model is
trained once and evaluated under every setting's cost matrix (and once more
per setting with Bayes minimum-risk relabelling, the post-hoc baseline).
Cost-sensitive models are trained per setting.

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


@dataclass(frozen=True)
class Detector:
    """One detector family: display names and config names."""
    key: str
    name: str
    base_config: str  # plain config file name; the CS twin is 'cs_' + it
    # the profile's epochs / batch size apply (YOLOv5: the paper's recipe);
    # SSD and Faster R-CNN keep their configs' own schedules.
    follows_profile: bool

    @property
    def cs_name(self) -> str:
        return f'CS-{self.name}'


DETECTORS: Dict[str, Detector] = {
    'yolov5': Detector('yolov5', 'YOLOv5', 'yolov5_neu.py', True),
    'ssd': Detector('ssd', 'SSD300', 'ssd300_neu.py', False),
    'faster_rcnn': Detector('faster_rcnn', 'Faster R-CNN',
                            'faster-rcnn_r50_fpn_neu.py', False),
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

    def options(self, current: Optional[dict] = None) -> Dict[str, Any]:
        """``cost.*`` cfg-options that make this spec the config's.

        ``current``: the config's resolved ``cost`` dict. Matrix sources it
        sets that this spec does not use (an explicit ``matrix``,
        ``coefficients`` instead of a group) are set to None so they cannot
        mix with it."""
        options = {
            'cost.positive_classes': list(self.positive_classes),
            'cost.group': self.group,
        }
        for unused in ('matrix', 'coefficients'):
            if (current or {}).get(unused) is not None:
                options[f'cost.{unused}'] = None
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
    weight_ratio: Optional[float] = None  # cost.ratio of a CS run
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
    # cost.normalize of the evaluations only ('sum': the paper's units, an
    # assumption, docs/method.md; training keeps the config's)
    eval_normalize: str = 'sum'
    # --cfg-options for every call; the configs are inspected with them too
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
# config inspection: the config as the tools will see it
@dataclass
class ConfigInfo:
    """What the planner needs to know about one config, after
    :func:`csdet.utils.config.load_resolved`."""
    path: str
    classes: Tuple[str, ...]  # cfg.classes (the dataset's)
    cost: Optional[dict]  # resolved `cost` dict; None: nothing consumes it
    # loss_weight of every CostSensitiveLoss under cfg.model
    cs_loss_weights: List[float]
    num_test_cost_metrics: int  # csdet cost metrics in test_evaluator
    # option prefixes of the test_evaluator entries with bayes_relabel
    relabel_prefixes: List[str]
    batch_size: Optional[int]
    epochs: Optional[int]

    @property
    def loss_weight(self) -> Optional[float]:
        """The CS losses' loss_weight; None when there is none or they
        differ (then no single cost_weight describes the run)."""
        weights = set(self.cs_loss_weights)
        return weights.pop() if len(weights) == 1 else None


def _lookup(cfg: Any, dotted_key: str) -> Any:
    node = cfg
    for part in dotted_key.split('.'):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _evaluator_entries(evaluator: Any, root: str) -> List[Tuple[str, dict]]:
    """(option prefix, metric) of each metric an evaluator config lists
    (a metric dict, a list of them, or dict(type='Evaluator', metrics=...));
    metrics wrapped inside another metric are not listed."""
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        return _evaluator_entries(evaluator['metrics'], f'{root}.metrics')
    if isinstance(evaluator, dict):
        return [(root, evaluator)]
    if isinstance(evaluator, (list, tuple)):
        return [(f'{root}.{index}', metric)
                for index, metric in enumerate(evaluator)
                if isinstance(metric, dict)]
    return []


def _registered_subclass(registry: Any, node: dict, base: type) -> bool:
    cls = registry.get(node['type']) if node.get('type') else None
    return isinstance(cls, type) and issubclass(cls, base)


def inspect_config(path: str,
                   cfg_options: Optional[Dict[str, Any]] = None
                   ) -> ConfigInfo:
    """Load ``path`` with ``cfg_options`` the way tools/train.py does
    (:func:`csdet.utils.config.load_resolved`) and read what the planner
    needs. Raises FileNotFoundError for a missing file, ValueError (naming
    the file) for a setting csdet refuses."""
    if not Path(path).is_file():
        raise FileNotFoundError(
            f'config not found: {path}. Pick the configs with --base-config '
            '(plain YOLOv5; its CS twin is cs_<name> in the same folder) or '
            '--cs-config; --profile quick uses the *_quick.py variants.')
    import csdet  # noqa: F401 (registers csdet's modules, as the tools do)
    from csdet.evaluation.metrics import BayesRelabelMetric
    from csdet.evaluation.metrics.base import CostSensitiveDetMetric
    from csdet.models.losses import CostSensitiveLoss
    from csdet.utils.config import (ConfigSettingError, load_resolved,
                                    walk_dicts)
    from mmdet.registry import METRICS, MODELS

    try:
        cfg = load_resolved(str(path), dict(cfg_options or {}))
    except ConfigSettingError as error:
        raise ValueError(f'{path}: {error}') from None
    losses = [node for _, node in walk_dicts(cfg.get('model', {}))
              if _registered_subclass(MODELS, node, CostSensitiveLoss)]
    metrics = _evaluator_entries(cfg.get('test_evaluator'), 'test_evaluator')
    cost_metrics = [
        (prefix, metric) for prefix, metric in metrics
        if _registered_subclass(METRICS, metric, (CostSensitiveDetMetric,
                                                  BayesRelabelMetric))]
    return ConfigInfo(
        path=str(path),
        classes=tuple(cfg.classes),
        cost=dict(cfg.cost) if cfg.get('cost') else None,
        cs_loss_weights=[loss.get('loss_weight', 1.0) for loss in losses],
        num_test_cost_metrics=len(cost_metrics),
        relabel_prefixes=[
            prefix for prefix, metric in cost_metrics
            if _registered_subclass(METRICS, metric, CostSensitiveDetMetric)
        ],
        batch_size=_lookup(cfg.get('train_dataloader'), 'batch_size'),
        epochs=_lookup(cfg.get('train_cfg'), 'max_epochs'))


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
    (:func:`csdet.utils.jobs.parse_cfg_options`)."""
    from csdet.utils.jobs import parse_cfg_options
    return parse_cfg_options(items)


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

    def info(self, path: str) -> ConfigInfo:
        """The inspected config (with the sweep's --cfg-options)."""
        if path not in self._infos:
            info = inspect_config(path, self.options.extra_options)
            if not info.num_test_cost_metrics:
                raise ValueError(
                    f'{path}: test_evaluator has no csdet cost metric '
                    '(CostMetric, F1Metric, DecisionCostMetric, '
                    'BayesRelabelMetric); the sweep scores every setting '
                    'with them')
            self._infos[path] = info
        return self._infos[path]

    def cs_info(self, detector: str) -> ConfigInfo:
        """The inspected CS config of ``detector``; it must hold a
        CostSensitiveLoss under ``model``."""
        path = self.configs(detector)[1]
        info = self.info(path)
        if not info.cs_loss_weights:
            raise ValueError(
                f'{path}: no loss under model is a CostSensitiveLoss (its '
                'class loss is not a CostSensitiveLoss); give the '
                'cost-sensitive config with --cs-config')
        return info

    def classes(self) -> Tuple[str, ...]:
        """The dataset's classes, as the CS YOLOv5 config resolves them."""
        return self.info(self.cs_config).classes

    def paper_positives(self) -> Tuple[str, ...]:
        positives = (self.options.positive_classes
                     or (self.cs_info('yolov5').cost
                         or {}).get('positive_classes'))
        if not positives:
            raise ValueError(f'{self.cs_config}: cost.positive_classes is '
                             'not set; pass --positive-classes')
        positives = (positives, ) if isinstance(positives, str) else positives
        unknown = sorted(set(positives) - set(self.classes()))
        if unknown:
            raise ValueError(f'positive classes {unknown} are not among the '
                             f'dataset classes {list(self.classes())}')
        return tuple(positives)

    # runs ----------------------------------------------------------------
    def with_extra_options(self, options: Dict[str, Any],
                           what: str) -> Dict[str, Any]:
        """``options`` plus the user's --cfg-options, which may not change
        a value the sweep sets itself (the run would be misnamed)."""
        extra = self.options.extra_options
        clashes = [key for key in extra
                   if key in options and extra[key] != options[key]]
        if clashes:
            key = clashes[0]
            raise ValueError(
                f'--cfg-options {key}={format_option(extra[key])} '
                f'contradicts the sweep, which sets {key}='
                f'{format_option(options[key])} for {what}; remove it and '
                'use the sweep\'s own options (--groups, --positive-classes, '
                '--ratios, --seeds, --batch-sizes, --profile)')
        return {**options, **extra}

    def evaluation(self, setting: Setting, config: str,
                   bayes_relabel: bool) -> Evaluation:
        """A tools/test.py call of ``config`` scored under ``setting``'s
        cost spec (``cost.*``), optionally with Bayes relabelling."""
        info = self.info(config)
        options = setting.cost.options(info.cost)
        options['cost.normalize'] = self.options.eval_normalize
        if bayes_relabel:
            options.update({f'{prefix}.bayes_relabel': True
                            for prefix in info.relabel_prefixes})
        name = setting.cost.tag(list(self.classes()))
        name += '-bayes' if bayes_relabel else ''
        return Evaluation(name, setting, bayes_relabel,
                          self.with_extra_options(
                              options, f'evaluation {name} of {config}'))

    def cost_options(self, setting: Setting) -> tuple:
        """Training options of a CS model: the setting's cost spec and
        weight ratio as ``cost.*`` options. Returns (options, run-name
        tags, cost_weight, weight ratio)."""
        info = self.cs_info(setting.detector)
        classes = list(self.classes())
        options = setting.cost.options(info.cost)
        tags = [setting.cost.tag(classes)]
        # r = lambda_cost / lambda_cls (paper Sec. 3.6). The config's own
        # ratio adds no option and no tag, so it shares the default run
        # (e.g. weight-ratio r = 0.75 is risk-groups' group a training).
        ratio = info.cost['ratio']
        if setting.weight_ratio is not None and setting.weight_ratio != ratio:
            ratio = setting.weight_ratio
            options['cost.ratio'] = ratio
            tags.append(f'r{ratio:g}')
        # csdet sets cost_weight = ratio * loss_weight on the loss
        loss_weight = info.loss_weight
        cost_weight = None if loss_weight is None else ratio * loss_weight
        return options, tags, cost_weight, ratio

    def add_run(self, setting: Setting, cost_sensitive: bool, seed: int,
                eval_settings: Sequence[Setting]) -> Run:
        """Plan a training for ``setting`` (its cost spec only matters for
        CS models) evaluated under ``eval_settings`` (plain models: also
        with Bayes relabelling)."""
        detector = DETECTORS[setting.detector]
        config = self.configs(setting.detector)[int(cost_sensitive)]
        info = self.info(config)
        if info.classes != self.classes():
            raise ValueError(
                f'{config} resolves the classes {list(info.classes)}, '
                f'{self.cs_config} {list(self.classes())}; the sweep '
                'compares models on one dataset')
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
                setting)
            options.update(cs_options)
            name += tags
        if batch is not None:
            name.append(f'bs{batch}')
        name.append(f'seed{seed}')
        run_name = '-'.join(name)
        options = self.with_extra_options(options,
                                          f'the training {run_name}')
        evaluations = [
            self.evaluation(s, config, relabel)
            for s in eval_settings
            for relabel in ((False, ) if cost_sensitive else (False, True))
        ]
        run = Run(
            run_id=len(self.runs),
            name=run_name,
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
