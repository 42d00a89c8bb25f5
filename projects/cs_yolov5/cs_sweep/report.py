"""Results: rows per evaluation, Markdown tables laid out like the paper's
Tables 2-5, and PNG plots (Figures 5-8).

Files written to ``<sweep dir>/<experiment>/``: ``results.csv``,
``results.json``, ``tables.md``, ``cost.png`` (cost per setting, YOLOv5 vs
CS-YOLOv5, plus the realised cost of the hard decisions with the post-hoc
Bayes relabelling), ``training_curves.png`` (classification loss and cost
term) and ``status.json``.
"""
from __future__ import annotations

import csv
import json
import math
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .experiments import Plan, Run
from .runner import eval_dir, read_json, run_dir

# Result column -> key in tools/test.py's test_metrics.json. The one place
# that knows the metric names (prefixes: CocoMetric 'coco', csdet's
# CostMetric 'cost', F1Metric 'f1', DecisionCostMetric 'decision').
METRIC_KEYS: Dict[str, str] = {
    'mAP_50': 'coco/bbox_mAP_50',  # the paper's mAP (AP at IoU 0.5)
    'mAP': 'coco/bbox_mAP',  # COCO mAP@[.5:.95]
    'F1': 'f1/best_f1',  # macro F1 at the best threshold (YOLOv5's way)
    'F1_at_0.25': 'f1/f1',  # macro F1 at the fixed score threshold
    # paper Eq. 16 over the class loss's positives (the paper's F)
    'cost_pos_x1e3': 'cost_pos/cost_x1e3',
    'num_loss_positives': 'cost_pos/F',
    # Eq. 16 over the detections matched to ground truth
    'cost': 'cost_det/cost',
    'cost_x1e3': 'cost_det/cost_x1e3',
    'label_cost': 'cost_det/label_cost',  # Eq. 16 with one-hot decisions
    'num_matched': 'cost_det/F',
    'decision_cost': 'decision/total_cost',  # incl. misses, false alarms
}
# Rows of the post-hoc baseline (bayes_relabel=True on csdet's metrics):
# CocoMetric is not relabelled by that switch, so its mAP is read only from
# a BayesRelabelMetric-wrapped CocoMetric ('bayes_coco' prefix) when the
# config has one, and left empty otherwise.
BAYES_METRIC_KEYS: Dict[str, str] = {
    'mAP_50': 'bayes_coco/bbox_mAP_50',
    'mAP': 'bayes_coco/bbox_mAP',
}

SETTING_COLUMNS = ('experiment', 'setting', 'setting_label', 'model',
                   'variant', 'detector', 'cost_sensitive', 'seed', 'group',
                   'positive_classes', 'num_positives', 'pick_seed',
                   'weight_ratio', 'cost_weight', 'batch_size', 'epochs')
RUN_COLUMNS = ('status', 'train_time_s', 'run_id', 'run_name', 'evaluation',
               'config', 'work_dir')
COLUMNS = SETTING_COLUMNS + tuple(METRIC_KEYS) + RUN_COLUMNS

BAYES = 'Bayes relabel'

# Paper numbers on NEU-DET (Liu et al., Sensors 2023): Tables 2-5 and the
# costs quoted in the text for Figures 5 and 6 (cost in units of 1e-3).
PAPER_NEU = {
    'risk-groups': {
        'YOLOv5': {'a': (0.76, 0.74, 3.68), 'b': (0.74, 0.72, 3.78),
                   'c': (0.76, 0.74, 3.81), 'd': (0.74, 0.72, 4.22)},
        'CS-YOLOv5': {'a': (0.75, 0.74, 0.470), 'b': (0.76, 0.74, 0.337),
                      'c': (0.76, 0.74, 0.340), 'd': (0.74, 0.72, 0.341)},
    },
    'positive-classes': {
        'YOLOv5': {1: (0.73, 0.72), 2: (0.74, 0.72), 3: (0.74, 0.73),
                   4: (0.77, 0.74)},
        'CS-YOLOv5': {1: (0.75, 0.73), 2: (0.75, 0.72), 3: (0.78, 0.75),
                      4: (0.74, 0.71)},
        'cost_reduction_pct': {1: 67.58, 2: 75.36, 3: 44.56, 4: 89.27},
    },
    'weight-ratio': {
        0.0: (0.75, 0.73), 0.25: (0.74, 0.72), 0.5: (0.72, 0.70),
        0.75: (0.76, 0.73), 1.0: (0.68, 0.67), 1.25: (0.68, 0.66),
        1.5: (0.68, 0.66)
    },
    'batch-size': {64: 0.48, 128: 0.47, 230: 0.47},
}


# ---------------------------------------------------------------------------
# rows
def _train_seconds(sweep_dir: Path, run: Run) -> Optional[float]:
    done = read_json(run_dir(sweep_dir, run) / 'train_done.json')
    return None if done is None else round(float(done['seconds']), 1)


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def collect_rows(plan: Plan, sweep_dir: Path) -> List[Dict[str, Any]]:
    """One row per (run, evaluation) of the plan, finished or not."""
    sweep_dir = Path(sweep_dir)
    rows = []
    for run in plan.runs:
        run_status = (read_json(run_dir(sweep_dir, run) / 'status.json')
                      or {}).get('status', 'pending')
        for evaluation in run.evaluations:
            setting = evaluation.setting
            done = read_json(
                eval_dir(sweep_dir, run, evaluation) / 'eval_done.json')
            metrics = done['metrics'] if done else {}
            row = OrderedDict(
                experiment=plan.experiment,
                setting=setting.key,
                setting_label=setting.label,
                model=run.model + (f' + {BAYES}'
                                   if evaluation.bayes_relabel else ''),
                variant='bayes' if evaluation.bayes_relabel else 'model',
                detector=run.detector,
                cost_sensitive=run.cost_sensitive,
                seed=run.seed,
                group=setting.cost.group,
                positive_classes=';'.join(setting.cost.positive_classes),
                num_positives=len(setting.cost.positive_classes),
                pick_seed=setting.pick_seed,
                weight_ratio=run.weight_ratio,
                cost_weight=run.cost_weight,
                batch_size=run.batch_size,
                epochs=run.epochs)
            keys = dict(METRIC_KEYS)
            if evaluation.bayes_relabel:
                keys.update(BAYES_METRIC_KEYS)
            for column, key in keys.items():
                row[column] = _number(metrics.get(key))
            row.update(
                status='done' if done else
                ('failed' if run_status == 'failed' else 'pending'),
                train_time_s=_train_seconds(sweep_dir, run),
                run_id=run.run_id,
                run_name=run.name,
                evaluation=evaluation.name,
                config=run.config,
                work_dir=str(run_dir(sweep_dir, run)))
            rows.append(row)
    return rows


def write_results(rows: List[Dict[str, Any]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / 'results.csv', 'w', newline='') as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ('' if row.get(k) is None else row.get(k))
                             for k in COLUMNS})
    (folder / 'results.json').write_text(json.dumps(rows, indent=2))


# ---------------------------------------------------------------------------
# aggregation over seeds (and over random picks where asked)
def mean_std(values: Iterable[Optional[float]]) -> Tuple[Optional[float],
                                                         Optional[float],
                                                         int]:
    numbers = [v for v in values if v is not None]
    if not numbers:
        return None, None, 0
    mean = sum(numbers) / len(numbers)
    if len(numbers) < 2:
        return mean, None, 1
    variance = sum((v - mean)**2 for v in numbers) / (len(numbers) - 1)
    return mean, math.sqrt(variance), len(numbers)


def group_rows(rows: Sequence[dict],
               keys: Sequence[str]) -> 'OrderedDict[tuple, List[dict]]':
    groups: 'OrderedDict[tuple, List[dict]]' = OrderedDict()
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    return groups


def aggregate(rows: Sequence[dict], column: str) -> Tuple[Optional[float],
                                                          Optional[float],
                                                          int]:
    """Mean, std and count of ``column`` over the finished rows."""
    return mean_std(row.get(column) for row in rows
                    if row.get('status', 'done') == 'done')


def fmt(value: Optional[float], digits: int = 3,
        std: Optional[float] = None) -> str:
    if value is None:
        return '–'
    text = f'{value:.{digits}f}'
    return text + (f' ± {std:.{digits}f}' if std is not None else '')


def cell(rows: Sequence[dict], column: str, digits: int = 3) -> str:
    if rows and all(r['status'] == 'failed' for r in rows):
        return 'failed'
    mean, std, _ = aggregate(rows, column)
    return fmt(mean, digits, std)


def reduction(plain: Optional[float], cs: Optional[float]) -> str:
    """Relative cost reduction of CS vs plain, in percent."""
    if plain is None or cs is None or plain == 0:
        return '–'
    return f'{100.0 * (plain - cs) / plain:.1f}%'


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]
                   ) -> str:
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '|'.join('---' for _ in header) + '|']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in body]
    return '\n'.join(lines)


METRIC_HEADER = ('mAP@0.5', 'mAP@[.5:.95]', 'F1', 'cost_pos (×1e-3)',
                 'cost_det (×1e-3)', 'label cost', 'decision cost', 'train time (s)', 'n')


def metric_cells(rows: Sequence[dict]) -> List[str]:
    seeds = len({row['seed'] for row in rows if row['status'] == 'done'})
    return [
        cell(rows, 'mAP_50'), cell(rows, 'mAP'), cell(rows, 'F1'),
        cell(rows, 'cost_pos_x1e3'), cell(rows, 'cost_x1e3'),
        cell(rows, 'label_cost', 4),
        cell(rows, 'decision_cost', 2), cell(rows, 'train_time_s', 0),
        str(seeds)
    ]


# ---------------------------------------------------------------------------
# tables per experiment
def setting_order(plan: Plan) -> List[Tuple[str, str]]:
    return [(s.key, s.label) for s in plan.settings]


def model_names(rows: Sequence[dict]) -> List[str]:
    """Models in display order: plain, post-hoc Bayes, cost-sensitive."""
    names = list(OrderedDict.fromkeys(row['model'] for row in rows))
    rank = {False: 0, True: 2}
    return sorted(names, key=lambda name: (
        rank[name.startswith('CS-')] + (1 if BAYES in name else 0),
        names.index(name)))


def rows_for(rows: Sequence[dict], **criteria) -> List[dict]:
    return [r for r in rows if all(r[k] == v for k, v in criteria.items())]


def main_table(plan: Plan, rows: Sequence[dict]) -> str:
    """Model x setting -> mAP/F1/cost (paper Tables 2-5 layout). Rows of a
    setting-independent model (plain YOLOv5 in weight-ratio) appear once."""
    body = []
    for model in model_names(rows):
        for key, label in setting_order(plan) + [('plain', 'no cost term')]:
            selected = rows_for(rows, model=model, setting=key)
            if selected:
                body.append([model, label] + metric_cells(selected))
    return markdown_table(('model', 'setting') + METRIC_HEADER, body)


def _plain_rows(plan: Plan, rows: Sequence[dict], key: str, detector: str,
                variant: str) -> List[dict]:
    """The plain model's rows that a CS setting is compared with."""
    plain_key = 'plain' if plan.experiment == 'weight-ratio' else key
    return rows_for(rows, setting=plain_key, detector=detector,
                    cost_sensitive=False, variant=variant)


def reduction_table(plan: Plan, rows: Sequence[dict]) -> str:
    """Per setting: CS vs plain cost (both Eq. 16 readings), and the
    hard-decision costs of plain, plain + Bayes relabelling and CS."""
    body = []
    columns = ('cost_pos_x1e3', 'cost_x1e3', 'label_cost', 'decision_cost')
    for key, label in setting_order(plan):
        cs_rows = [r for r in rows_for(rows, setting=key)
                   if r['cost_sensitive']]
        if not cs_rows:
            continue
        detector = cs_rows[0]['detector']
        plain = _plain_rows(plan, rows, key, detector, 'model')
        bayes = _plain_rows(plan, rows, key, detector, 'bayes')
        values = {name: {col: aggregate(group, col)[0] for col in columns}
                  for name, group in (('plain', plain), ('bayes', bayes),
                                      ('cs', cs_rows))}
        plain_v, bayes_v, cs_v = values['plain'], values['bayes'], values['cs']
        body.append([
            label,
            fmt(plain_v['cost_pos_x1e3']), fmt(cs_v['cost_pos_x1e3']),
            reduction(plain_v['cost_pos_x1e3'], cs_v['cost_pos_x1e3']),
            fmt(plain_v['cost_x1e3']), fmt(cs_v['cost_x1e3']),
            reduction(plain_v['cost_x1e3'], cs_v['cost_x1e3']),
            fmt(plain_v['label_cost'], 4), fmt(bayes_v['label_cost'], 4),
            fmt(cs_v['label_cost'], 4),
            fmt(plain_v['decision_cost'], 2),
            fmt(bayes_v['decision_cost'], 2), fmt(cs_v['decision_cost'], 2),
            reduction(bayes_v['decision_cost'], cs_v['decision_cost']),
        ])
    header = ('setting', 'plain cost_pos ×1e-3', 'CS cost_pos ×1e-3',
              'CS reduction (cost_pos)', 'plain cost_det ×1e-3',
              'CS cost_det ×1e-3', 'CS reduction (cost_det)',
              'plain label cost', 'plain+Bayes label cost', 'CS label cost',
              'plain decision cost', 'plain+Bayes decision cost',
              'CS decision cost', 'CS vs plain+Bayes (decision)')
    return markdown_table(header, body)


def seed_reduction_table(plan: Plan, rows: Sequence[dict]) -> str:
    """Per setting and seed: the CS model's cost reduction against the plain
    model of the same seed, for both Eq. 16 readings (mean ± std last)."""
    body = []
    for key, label in setting_order(plan):
        cs_rows = [r for r in rows_for(rows, setting=key)
                   if r['cost_sensitive'] and r['status'] == 'done']
        if not cs_rows:
            continue
        plain = _plain_rows(plan, rows, key, cs_rows[0]['detector'], 'model')
        plain_by_seed = {r['seed']: r for r in plain if r['status'] == 'done'}
        per_metric = {}
        for column in ('cost_pos_x1e3', 'cost_x1e3'):
            per_metric[column] = [
                100.0 * (1 - r[column] / plain_by_seed[r['seed']][column])
                for r in sorted(cs_rows, key=lambda r: r['seed'])
                if r['seed'] in plain_by_seed and r.get(column)
                and plain_by_seed[r['seed']].get(column)]
        seeds = sorted(r['seed'] for r in cs_rows if r['seed'] in plain_by_seed)
        body.append([label, ' '.join(str(s) for s in seeds)] + [
            ' / '.join(f'{v:.1f}%' for v in per_metric[c]) + '  (' +
            fmt(mean_std(per_metric[c])[0], 1, mean_std(per_metric[c])[1])
            + '%)'
            for c in ('cost_pos_x1e3', 'cost_x1e3')])
    return markdown_table(('setting', 'seeds', 'cost_pos reduction per seed',
                           'cost_det reduction per seed'), body)


def positive_count_table(plan: Plan, rows: Sequence[dict]) -> str:
    """Paper Table 3 / Fig. 6: mean over the random picks (and seeds) per
    number of positive classes."""
    body = []
    counts = sorted({s.num_positives for s in plan.settings})
    for model in model_names(rows):
        for count in counts:
            selected = rows_for(rows, model=model, num_positives=count)
            selected = [r for r in selected
                        if r['setting'].startswith('k')]
            if selected:
                picks = len({r['setting'] for r in selected})
                body.append([model, str(count), str(picks)] +
                            metric_cells(selected)[:7])
    header = ('model', 'positives', 'picks') + METRIC_HEADER[:7]
    table = markdown_table(header, body)
    reductions = []
    for count in counts:
        plain = [r for r in rows_for(rows, num_positives=count,
                                     cost_sensitive=False, variant='model')
                 if r['setting'].startswith('k')]
        cs = [r for r in rows_for(rows, num_positives=count,
                                  cost_sensitive=True)]
        reductions.append([
            str(count),
            fmt(aggregate(plain, 'cost_pos_x1e3')[0]),
            fmt(aggregate(cs, 'cost_pos_x1e3')[0]),
            reduction(aggregate(plain, 'cost_pos_x1e3')[0],
                      aggregate(cs, 'cost_pos_x1e3')[0])
        ])
    return table + '\n\n' + markdown_table(
        ('positives', 'plain cost_pos ×1e-3', 'CS cost_pos ×1e-3',
         'CS reduction'), reductions)


def paper_table(experiment: str) -> str:
    paper = PAPER_NEU.get(experiment)
    if experiment == 'risk-groups':
        body = [[model, group, f'{m:.2f}', f'{f:.2f}', f'{c:.3f}']
                for model, groups in paper.items()
                for group, (m, f, c) in groups.items()]
        body += [['reduction', group,
                  '', '', reduction(paper['YOLOv5'][group][2],
                                    paper['CS-YOLOv5'][group][2])]
                 for group in paper['YOLOv5']]
        return markdown_table(('model', 'group', 'mAP@0.5', 'F1',
                               'cost ×1e-3'), body)
    if experiment == 'positive-classes':
        body = [[model, str(k), f'{m:.2f}', f'{f:.2f}', '']
                for model in ('YOLOv5', 'CS-YOLOv5')
                for k, (m, f) in paper[model].items()]
        body += [['reduction', str(k), '', '', f'{p:.2f}%']
                 for k, p in paper['cost_reduction_pct'].items()]
        return markdown_table(('model', 'positives', 'mAP@0.5', 'F1',
                               'cost reduction'), body)
    if experiment == 'weight-ratio':
        return markdown_table(
            ('r', 'mAP@0.5', 'F1'),
            [[f'{r:g}' + (' (YOLOv5)' if r == 0 else ''), f'{m:.2f}',
              f'{f:.2f}'] for r, (m, f) in paper.items()])
    if experiment == 'batch-size':
        return markdown_table(('batch', 'CS-YOLOv5 cost ×1e-3'),
                              [[str(b), f'{c:.2f}']
                               for b, c in paper.items()])
    return ('The paper trains only YOLOv5 and CS-YOLOv5; SSD and Faster '
            'R-CNN are discussed, not measured.')


EXPERIMENT_TITLES = {
    'risk-groups': 'Table 2 / Figure 5: risk coefficient groups (a)-(d)',
    'positive-classes': 'Table 3 / Figure 6: number of positive classes',
    'weight-ratio': 'Table 4 / Figure 7: weight ratio r = '
                    'lambda_cost / lambda_cls',
    'batch-size': 'Table 5: batch size',
    'detectors': 'Detectors: YOLOv5, SSD300, Faster R-CNN, plain and CS',
}

NOTES = """Columns: mAP@0.5 = `coco/bbox_mAP_50` (the paper's mAP);
F1 = `f1/best_f1` (macro F1 at the best score threshold, as YOLOv5 reports
it); cost_pos = paper Eq. 16 as the paper defines it (`cost_pos/cost`, over
the positive samples of the class loss on the test images), shown x1e3;
cost_det = Eq. 16 over the detections matched to ground truth
(`cost_det/cost`, class-agnostic IoU >= 0.5), shown x1e3; all costs use
the evaluation's matrix normalisation (`--eval-normalize`, default 'sum');
label cost = Eq. 16 with the hard (one-hot) labels (`cost_det/label_cost`);
decision cost = `decision/total_cost` (misclassifications, misses and false
alarms at score >= 0.25, background priced as a negative class). Values are
means over seeds (± sample std when n > 1). "+ Bayes relabel" = the plain
model with each detection relabelled to argmin_k sum_c p_c C[c, k] at test
time: it changes the hard decisions (label and decision cost, F1) but not
Eq. 16, which uses the full probability vector, so its Eq. 16 cost equals
the plain model's by construction."""


def tables_markdown(plan: Plan, rows: Sequence[dict]) -> str:
    done = sum(r['status'] == 'done' for r in rows)
    failed = sorted({r['run_name'] for r in rows if r['status'] == 'failed'})
    parts = [
        f'# {EXPERIMENT_TITLES[plan.experiment]}', '',
        f'Profile `{plan.profile}`; {done}/{len(rows)} evaluations done'
        + (f'; failed runs: {", ".join(failed)}' if failed else '') + '.', '',
        '## Results', '', main_table(plan, rows), '',
        '## Cost: cost-sensitive training vs plain and post-hoc Bayes', '',
        reduction_table(plan, rows), '',
        '## Cost reduction per seed (CS vs the plain model of that seed)', '',
        seed_reduction_table(plan, rows), ''
    ]
    if plan.experiment == 'positive-classes':
        parts += ['## Per number of positive classes (mean over picks)', '',
                  positive_count_table(plan, rows), '']
    parts += ['## Paper (NEU-DET)', '', paper_table(plan.experiment), '',
              '## Notes', '', NOTES, '']
    return '\n'.join(parts)


# ---------------------------------------------------------------------------
# plots
def _figure(width: float, height: float, panels: int = 1):
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib.figure import Figure
    figure = Figure(figsize=(width, height))
    axes = [figure.add_subplot(1, panels, i + 1) for i in range(panels)]
    return figure, axes


def _bars(axes, labels: Sequence[str], series: Dict[str, Sequence[tuple]],
          ylabel: str, title: str) -> None:
    """Grouped bars: series name -> [(mean, std), ...] per label."""
    count = max(len(series), 1)
    width = 0.8 / count
    for index, (name, values) in enumerate(series.items()):
        positions = [i + (index - (count - 1) / 2) * width
                     for i in range(len(labels))]
        means = [v[0] if v[0] is not None else math.nan for v in values]
        errors = [v[1] or 0.0 for v in values]
        axes.bar(positions, means, width, yerr=errors, label=name,
                 capsize=3)
    axes.set_xticks(range(len(labels)), labels, rotation=20, ha='right')
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    top = axes.get_ylim()[1]
    if math.isfinite(top) and top > 0:
        axes.set_ylim(0, top * 1.3)  # room for the legend above the bars
    axes.legend(fontsize=8, loc='upper right')


ROLES = ('plain', 'bayes', 'cs')


def role(row: dict) -> str:
    """plain model, plain model + Bayes relabelling, or cost-sensitive."""
    if row['cost_sensitive']:
        return 'cs'
    return 'bayes' if row['variant'] == 'bayes' else 'plain'


def role_names(rows: Sequence[dict]) -> Dict[str, str]:
    """Legend names: model names when one detector is involved."""
    detectors = {row['detector'] for row in rows}
    if len(detectors) == 1:
        names = {role(row): row['model'] for row in rows}
        return {r: names[r] for r in ROLES if r in names}
    generic = {'plain': 'plain', 'bayes': f'plain + {BAYES}',
               'cs': 'cost-sensitive'}
    present = {role(row) for row in rows}
    return {r: generic[r] for r in ROLES if r in present}


def _series(rows: Sequence[dict], categories: Sequence[Any],
            category_key: str, column: str,
            roles: Sequence[str]) -> Dict[str, List[tuple]]:
    """Legend name -> [(mean, std) per category] for the given roles."""
    names = role_names(rows)
    series = {}
    for name_role in roles:
        if name_role not in names:
            continue
        values = []
        for category in categories:
            selected = [r for r in rows if role(r) == name_role
                        and r[category_key] == category]
            mean, std, _ = aggregate(selected, column)
            values.append((mean, std))
        series[names[name_role]] = values
    return series


def _by_setting(plan: Plan, rows: Sequence[dict]) -> List[dict]:
    """Rows with the setting-independent plain rows (weight-ratio) copied
    into every setting, so that bars/lines can compare per setting."""
    if plan.experiment != 'weight-ratio':
        return list(rows)
    expanded = [r for r in rows if r['setting'] != 'plain']
    for row in rows_for(rows, setting='plain'):
        expanded += [dict(row, setting=s.key) for s in plan.settings]
    return expanded


def plot_costs(plan: Plan, rows: Sequence[dict], path: Path) -> Path:
    """Figure 5/6/7 analogue: Eq. 16 cost and hard-decision cost per
    setting, plain vs CS (and plain + Bayes for the decision cost)."""
    rows = _by_setting(plan, rows)
    if plan.experiment == 'positive-classes':
        categories = sorted({s.num_positives for s in plan.settings})
        key, labels = 'num_positives', [str(c) for c in categories]
        rows = [r for r in rows if r['setting'].startswith('k')]
        xlabel = 'number of positive classes (mean over picks)'
    else:
        categories = [s.key for s in plan.settings]
        key, labels = 'setting', [s.label for s in plan.settings]
        xlabel = EXPERIMENT_TITLES[plan.experiment].split(': ', 1)[-1]
    figure, (left, right) = _figure(11, 4.2, panels=2)
    if plan.experiment == 'weight-ratio':
        ratios = [s.weight_ratio for s in plan.settings]
        names = role_names(rows)
        for line_role, style in (('plain', '--'), ('cs', '-o')):
            if line_role not in names:
                continue
            values = _series(rows, categories, key, 'cost_pos_x1e3',
                             (line_role, ))[names[line_role]]
            means = [v[0] if v[0] is not None else math.nan for v in values]
            left.plot(ratios, means, style, label=names[line_role])
        left.set_xlabel('r = lambda_cost / lambda_cls')
        left.set_ylabel('cost_pos (×1e-3)')
        left.set_title('Eq. 16 cost (cost_pos) vs weight ratio', fontsize=10)
        left.legend(fontsize=8)
    else:
        _bars(left, labels, _series(rows, categories, key, 'cost_pos_x1e3',
                                    ('plain', 'cs')),
              'cost_pos (×1e-3)', 'Eq. 16 cost (cost_pos)')
        left.set_xlabel(xlabel)
    _bars(right, labels, _series(rows, categories, key, 'label_cost',
                                 ROLES),
          'label cost', 'hard-decision cost (post-hoc Bayes vs CS)')
    figure.suptitle(EXPERIMENT_TITLES[plan.experiment], fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def read_scalars(train_dir: Path) -> List[dict]:
    """mmengine's vis_data/scalars.json of every training attempt, in time
    order; a step logged twice (before a kill and after the resume) keeps
    the later value."""
    by_step: 'OrderedDict[int, dict]' = OrderedDict()
    for path in sorted(Path(train_dir).glob('*/vis_data/scalars.json')):
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not any(k.startswith('loss') for k in record):
                continue  # validation lines
            step = record.get('step', record.get('iter'))
            if step is not None:
                by_step[int(step)] = record
    return [by_step[step] for step in sorted(by_step)]


def plot_training_curves(plan: Plan, sweep_dir: Path, path: Path) -> Path:
    """Figure 8 analogue: classification loss (CE part) and cost term per
    iteration for every run of the experiment."""
    figure, (left, right) = _figure(11, 4.2, panels=2)
    drawn = 0
    for index, run in enumerate(plan.runs):
        records = read_scalars(run_dir(sweep_dir, run) / 'train')
        if not records:
            continue
        label = run.name
        color = f'C{index % 10}'  # one colour per run in both panels
        ce_key = ('loss_cls_ce' if any('loss_cls_ce' in r for r in records)
                  else 'loss_cls')
        points = [(r.get('step', r.get('iter')), r[ce_key]) for r in records
                  if ce_key in r]
        if points:
            left.plot(*zip(*points), label=label, color=color, linewidth=1)
            drawn += 1
        cost = [(r.get('step', r.get('iter')), r['loss_cls_cost'])
                for r in records if 'loss_cls_cost' in r]
        if cost:
            right.plot(*zip(*cost), label=label, color=color, linewidth=1)
    left.set_title('classification loss (loss_cls_ce / loss_cls)',
                   fontsize=10)
    right.set_title('cost term (loss_cls_cost)', fontsize=10)
    for axes in (left, right):
        axes.set_xlabel('iteration')
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=6)
    if not drawn:
        left.text(0.5, 0.5, 'no training logs yet', ha='center',
                  transform=left.transAxes)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def write_report(plan: Plan, sweep_dir: Path,
                 statuses: Optional[Sequence[Any]] = None) -> Path:
    """results.csv/json, tables.md, cost.png, training_curves.png and
    status.json in ``<sweep dir>/<experiment>/``; returns that folder."""
    sweep_dir = Path(sweep_dir)
    folder = sweep_dir / plan.experiment
    rows = collect_rows(plan, sweep_dir)
    write_results(rows, folder)
    (folder / 'tables.md').write_text(tables_markdown(plan, rows))
    plot_costs(plan, rows, folder / 'cost.png')
    plot_training_curves(plan, sweep_dir, folder / 'training_curves.png')
    summary = []
    for run in plan.runs:
        status = read_json(run_dir(sweep_dir, run) / 'status.json') or {}
        summary.append(dict(run_id=run.run_id, name=run.name,
                            status=status.get('status', 'pending'),
                            error=status.get('error')))
    (folder / 'status.json').write_text(json.dumps(summary, indent=2))
    return folder

