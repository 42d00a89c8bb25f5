"""DecisionCostMetric: the cost of a detector's final decisions."""
import os
import os.path as osp
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
from mmdet.registry import METRICS

from csdet.cost.decision import background_as_negative_costs as \
    background_costs
from csdet.cost.decision import confusion_cost, extend_cost_matrix
from . import curves
from .base import CostSensitiveDetMetric, above_threshold
from .f1_metric import collect_matches, macro_f1_curve
from .matching import greedy_match

BACKGROUND = 'background'
#: The numbers reported per decision rule (``<rule>/<key>``).
RULE_KEYS = ('total_cost', 'cost_per_image', 'num_missed',
             'num_false_alarms', 'num_misclassified')
#: Rule names that are not thresholds files.
NAMED_RULES = ('argmax', 'min-risk')


def rule_name(spec: Any) -> str:
    """The name a decision rule spec reports under: ``'argmax'``,
    ``'min-risk'``, ``'thresholds'`` for a dict, the file stem for a
    thresholds JSON path.

    Raises:
        TypeError: the spec is none of these.
    """
    if isinstance(spec, str) and spec in NAMED_RULES:
        return spec
    if isinstance(spec, Mapping):
        return 'thresholds'
    if isinstance(spec, (str, os.PathLike)):
        return Path(spec).stem
    raise TypeError("a decision rule spec is 'argmax', 'min-risk', a "
                    f'thresholds JSON path or dict, got {spec!r}')


def _check_rule_file(spec: Any) -> None:
    """A spec that is not a named rule nor a dict must be an existing
    file."""
    if (isinstance(spec, (str, os.PathLike)) and spec not in NAMED_RULES
            and not Path(spec).is_file()):
        raise FileNotFoundError(
            f"decision rule {str(spec)!r} is neither 'argmax' nor "
            "'min-risk' nor an existing thresholds JSON file; tune one "
            'with tools/tune_thresholds.py or check the path')


def rule_names(specs: Sequence[Any]) -> List[str]:
    """:func:`rule_name` of every spec.

    Raises:
        ValueError: two specs report under the same name (e.g. two
            ``thresholds.json`` in different folders); rename a file.
    """
    names = [rule_name(spec) for spec in specs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f'decision rules {list(map(str, specs))} report under the same '
            f'name {repeated}; give each thresholds file its own name '
            "(its stem is the rule's name) and list each rule once")
    return names


def background_as_negative_costs(class_names: Sequence[str],
                                 cost_spec: dict,
                                 cost_matrix: np.ndarray) -> tuple:
    """Missed / false-alarm costs that treat background as one more
    *negative* class of the paper's rule (Eq. 8), for a metric's class-based
    ``cost_spec``: :func:`csdet.cost.decision.background_as_negative_costs`
    with the spec's coefficients (its ``group``, default a)."""
    from csdet.cost.matrix import PAPER_GROUPS

    coefficients = cost_spec.get('coefficients')
    if coefficients is None:
        coefficients = PAPER_GROUPS[str(cost_spec.get('group') or
                                        'a').lower()]
    return background_costs(list(class_names),
                            cost_spec['positive_classes'], coefficients,
                            cost_matrix)


def image_decision_confusion(record: Dict[str, Any], labels: np.ndarray,
                             keep: np.ndarray, num_classes: int,
                             iou_thr: float) -> np.ndarray:
    """(N+1) x (N+1) confusion counts of one image's decisions.

    The detections where ``keep`` is True, labelled ``labels``, are matched
    class-agnostically to the ground truth (:func:`.matching.greedy_match`):
    a matched pair (true t, label k) counts in ``M[t, k]``, an unmatched
    detection in ``M[N, k]`` (false alarm), an unmatched ground truth in
    ``M[t, N]`` (miss); detections covering an ignored ground truth are
    dropped.

    Args:
        record: a metric record (``scores``, ``bboxes``, ``gt_bboxes``,
            ``gt_labels``, ``ignored_bboxes``; see :mod:`.base`).
        labels: ``[D]`` decided labels in ``[0, N)`` of all detections.
        keep: ``[D]`` bool, the detections that are decisions.
        num_classes: N.
        iou_thr: minimum IoU of a match.
    """
    confusion = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    labels = labels[keep]
    assignment = greedy_match(record['scores'][keep], record['bboxes'][keep],
                              record['gt_bboxes'], iou_thr,
                              record['ignored_bboxes'])
    matched = assignment >= 0
    np.add.at(confusion,
              (record['gt_labels'][assignment[matched]], labels[matched]), 1)
    np.add.at(confusion, (num_classes, labels[assignment == -1]), 1)
    gt_missed = np.ones(len(record['gt_labels']), dtype=bool)
    gt_missed[assignment[matched]] = False
    np.add.at(confusion, (record['gt_labels'][gt_missed], num_classes), 1)
    return confusion


def decision_metrics(confusion: np.ndarray, extended: np.ndarray,
                     num_images: int) -> Dict[str, float]:
    """The reported numbers of a confusion matrix M under the extended cost
    matrix E (both (N+1) x (N+1), background last): ``total_cost`` =
    ``sum M * E``, ``cost_per_image`` (NaN without images), its
    misclassification / missed / false-alarm parts and the four counts."""
    num_classes = len(confusion) - 1
    weighted = confusion * extended
    objects = slice(0, num_classes)
    total = confusion_cost(confusion, extended)
    return dict(
        total_cost=total,
        cost_per_image=total / num_images if num_images else float('nan'),
        misclassification_cost=float(weighted[objects, objects].sum()),
        missed_cost=float(weighted[objects, num_classes].sum()),
        false_alarm_cost=float(weighted[num_classes, objects].sum()),
        num_correct=int(np.trace(confusion[objects, objects])),
        num_misclassified=int(confusion[objects, objects].sum() -
                              np.trace(confusion[objects, objects])),
        num_missed=int(confusion[objects, num_classes].sum()),
        num_false_alarms=int(confusion[num_classes, objects].sum()))


@METRICS.register_module()
class DecisionCostMetric(CostSensitiveDetMetric):
    """Confusion matrix and total cost of the decisions at a threshold.

    Beyond the paper's Eq. 16: the detections with ``score >= score_thr``
    (Bayes labels with ``bayes_relabel``) are matched class-agnostically to
    the ground truth and counted in an (N+1) x (N+1) matrix M (background at
    index N: misses in column N, false alarms in row N). Total cost =
    ``sum_{t,k} M[t, k] * E[t, k]``, with E the cost matrix C extended by
    miss and false-alarm costs. Defaults of E, decision rules and curves:
    docs/method.md, section 4, "DecisionCostMetric".

    Reported (prefix ``decision``): ``total_cost``, ``cost_per_image``,
    ``misclassification_cost``, ``missed_cost``, ``false_alarm_cost``,
    ``num_correct``, ``num_misclassified``, ``num_missed``,
    ``num_false_alarms``, ``num_relabelled`` (``bayes_relabel``),
    ``<rule>/...`` per rule; and ``decision_*.json`` / ``.png`` files.

    Args:
        score_thr: operating threshold (also the ``'argmax'`` rule's).
        iou_thr: minimum IoU of a match.
        missed_cost, false_alarm_cost: None, a number, or N values.
        save_plot: write the PNG heatmap.
        decision_rules: None, or a list of rule specs for
            :func:`csdet.cost.deploy_decision.build_decision_rule`.
        save_curves: write ``threshold_curves.csv`` and the cost-curve PNG.
        **kwargs: see :class:`CostSensitiveDetMetric`.

    Raises:
        TypeError / FileNotFoundError: a rule spec naming no rule or file.
        ValueError: two rules with the same name.
    """
    default_prefix: Optional[str] = 'decision'

    def __init__(self,
                 score_thr: float = 0.25,
                 iou_thr: float = 0.5,
                 missed_cost: Optional[Union[float, Sequence[float]]] = None,
                 false_alarm_cost: Optional[Union[float,
                                                  Sequence[float]]] = None,
                 save_plot: bool = True,
                 decision_rules: Optional[Sequence[Any]] = None,
                 save_curves: bool = True,
                 **kwargs) -> None:
        super().__init__(iou_thr=iou_thr, **kwargs)
        self.score_thr = float(score_thr)
        self.missed_cost = missed_cost
        self.false_alarm_cost = false_alarm_cost
        self.save_plot = save_plot
        self.save_curves = save_curves
        self.decision_rules = decision_rules

    @property
    def decision_rules(self) -> Optional[List[Any]]:
        """The rule specs (None: no rule)."""
        return self._decision_rules

    @decision_rules.setter
    def decision_rules(self, specs: Optional[Sequence[Any]]) -> None:
        if specs is not None:
            if isinstance(specs, (str, os.PathLike, Mapping)):
                specs = [specs]
            specs = list(specs)
            rule_names(specs)
            for spec in specs:
                _check_rule_file(spec)
        self._decision_rules = specs or None

    @property
    def requires_cls_probs(self) -> bool:  # type: ignore[override]
        """The decision rules price decisions with ``cls_probs``."""
        return self._decision_rules is not None

    def _prediction_record(self, data_sample: dict,
                           needs_probs: bool) -> Dict[str, Any]:
        try:
            return super()._prediction_record(data_sample, needs_probs)
        except KeyError as error:
            if self._decision_rules is None:
                raise
            raise KeyError(
                f'{error.args[0]} (decision_rules '
                f'{rule_names(self._decision_rules)} need it: every rule '
                "prices its decisions with the class probabilities; drop "
                'the rules / --decision for this model)') from None

    def extended_cost_matrix(self) -> np.ndarray:
        """E, the (N+1) x (N+1) cost matrix with background last."""
        missed, false_alarm = self.missed_cost, self.false_alarm_cost
        if (self.cost_spec['cost_matrix'] is None
                and self.cost_spec['positive_classes'] is not None):
            auto_missed, auto_false_alarm = background_as_negative_costs(
                self.class_names, self.cost_spec, self.cost_matrix)
            missed = auto_missed if missed is None else missed
            false_alarm = (auto_false_alarm
                           if false_alarm is None else false_alarm)
        return extend_cost_matrix(self.cost_matrix, missed, false_alarm)

    def confusion_matrix(self, results: List[Dict[str, Any]]) -> tuple:
        """(M, number of relabelled detections) over all images."""
        num_classes = len(self.class_names)
        confusion = np.zeros((num_classes + 1, num_classes + 1),
                             dtype=np.int64)
        num_relabelled = 0
        for record in results:
            labels = self.decision_labels(record)
            keep = above_threshold(record['scores'], self.score_thr)
            num_relabelled += int((labels != record['labels'])[keep].sum())
            confusion += image_decision_confusion(record, labels, keep,
                                                  num_classes, self.iou_thr)
        return confusion, num_relabelled

    def compute_metrics(self, results: List[Dict[str, Any]]) -> Dict[str,
                                                                      float]:
        class_names = self.class_names
        extended = self.extended_cost_matrix()
        confusion, num_relabelled = self.confusion_matrix(results)
        weighted = confusion * extended
        metrics = decision_metrics(confusion, extended, len(results))
        total = metrics['total_cost']
        if self.bayes_relabel:
            metrics['num_relabelled'] = num_relabelled
        rule_rows = self.rule_metrics(results, extended)
        for row in rule_rows:
            metrics.update({
                f"{row['rule']}/{key}": row[key]
                for key in RULE_KEYS
            })
        names = list(class_names) + [BACKGROUND]
        settings = dict(
            score_thr=self.score_thr,
            iou_thr=self.iou_thr,
            bayes_relabel=self.bayes_relabel,
            matching='greedy by descending score, class-agnostic, one '
            'detection per ground truth',
            cost_spec=self.cost_spec)
        summary = dict(
            metrics=metrics,
            classes=names,
            confusion_matrix=confusion,
            extended_cost_matrix=extended,
            num_images=len(results),
            settings=settings)
        if rule_rows:
            summary['decision_rules'] = rule_rows
        self.dump_json(summary, 'decision_metric.json')
        self.dump_json(
            dict(
                rows='true class',
                columns='predicted class',
                classes=names,
                counts=confusion,
                cost_weighted=weighted), 'decision_confusion.json')
        output_dir = self.resolve_output_dir()
        if self.save_plot and output_dir is not None:
            plot_confusion_matrix(
                confusion, weighted, names,
                osp.join(output_dir, 'decision_confusion.png'),
                title=f'decisions at score >= {self.score_thr:g}, total cost '
                f'{total:.4g} (cell: count, then cost)')
        if self.save_curves and output_dir is not None:
            self.write_curves(results, extended, total, output_dir)
        return metrics

    def rule_metrics(self, results: List[Dict[str, Any]],
                     extended: np.ndarray) -> List[Dict[str, Any]]:
        """One row per decision rule: ``rule``, ``source``, the
        ``thresholds`` it applies (None for min-risk) and the
        :data:`RULE_KEYS` numbers; [] without rules."""
        if self._decision_rules is None:
            return []
        # lazy: csdet.cost.threshold_tuning imports this module
        from csdet.cost.deploy_decision import build_decision_rule
        from csdet.cost.threshold_tuning import rule_decision_metrics

        for record in results:
            self.check_labels(record)
            self.check_cls_probs(record)
        rows = []
        for name, spec in zip(rule_names(self._decision_rules),
                              self._decision_rules):
            rule = build_decision_rule(spec, extended, self.class_names,
                                       score_thr=self.score_thr)
            numbers = rule_decision_metrics(results, rule, self.iou_thr)
            rows.append(
                dict(rule=name,
                     source=(rule.source if rule.name == 'thresholds' else
                             rule.name),
                     thresholds=(None if rule.thresholds is None else dict(
                         zip(self.class_names, rule.thresholds))),
                     **{key: numbers[key]
                        for key in RULE_KEYS}))
        return rows

    def write_curves(self, results: List[Dict[str, Any]],
                     extended: np.ndarray, total: float,
                     output_dir: str) -> None:
        """``threshold_curves.csv`` and ``decision_cost_curve.png`` (class
        docstring) into ``output_dir``; ``total`` is the cost at
        ``score_thr``."""
        labels = [self.decision_labels(record) for record in results]
        grid = curves.grid_thresholds()
        prf = macro_f1_curve(
            *collect_matches(results, labels, len(self.class_names),
                             self.iou_thr), grid)
        costs = curves.decision_cost_curve(results, labels, extended,
                                           self.iou_thr, grid)
        curves.write_curves_csv(
            osp.join(output_dir, curves.CURVES_CSV),
            dict(threshold=curves.THRESHOLD_GRID,
                 macro_precision=prf['macro_precision'],
                 macro_recall=prf['macro_recall'],
                 macro_f1=prf['macro_f1'],
                 decision_total_cost=costs))
        marks = [(f'score_thr {self.score_thr:g}', self.score_thr, total)]
        best = curves.best_on_grid(costs, lower_is_better=True)
        if best >= 0:
            marks.append(('cheapest on the grid',
                          float(curves.THRESHOLD_GRID[best]), costs[best]))
        curves.plot_cost_curve(curves.THRESHOLD_GRID, costs, marks,
                               osp.join(output_dir, curves.COST_CURVE_PNG))


def plot_confusion_matrix(confusion: np.ndarray, weighted: np.ndarray,
                          names: Sequence[str], path: str,
                          title: str) -> None:
    """Heatmap of the cost-weighted confusion matrix, annotated with counts
    (and costs), rows = true, columns = predicted (Agg backend, no
    display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    size = 1.2 + 0.8 * len(names)
    figure = Figure(figsize=(size + 1.5, size))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(weighted, cmap='Reds')
    figure.colorbar(image, ax=axes, label='cost (count x unit cost)')
    axes.set_xticks(range(len(names)), names, rotation=45, ha='right')
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel('predicted class')
    axes.set_ylabel('true class')
    axes.set_title(title, fontsize=9)
    peak = weighted.max() if weighted.max() > 0 else 1.0
    for row in range(len(names)):
        for column in range(len(names)):
            color = 'white' if weighted[row, column] > 0.6 * peak else 'black'
            axes.text(column, row,
                      f'{confusion[row, column]}\n'
                      f'{weighted[row, column]:.3g}',
                      ha='center', va='center', fontsize=7, color=color)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
