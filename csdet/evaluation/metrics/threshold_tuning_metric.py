"""ThresholdTuningMetric: per-class score thresholds tuned on the split it
evaluates, written as a thresholds JSON for the deployment rules."""
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Sequence

from mmdet.registry import METRICS
from mmengine.logging import print_log

from .base import jsonable
from .decision_cost_metric import DecisionCostMetric

OBJECTIVES = ('decision_cost', 'f1')


@METRICS.register_module()
class ThresholdTuningMetric(DecisionCostMetric):
    """Tunes one score threshold per class on a labelled tuning split.

    Collects the records of the split (never the one results are reported
    on) and runs :func:`csdet.cost.threshold_tuning.tune_class_thresholds`
    from ``score_thr``, with ``iou_thr`` and this metric's extended cost
    matrix (give it the settings of the ``DecisionCostMetric`` the
    thresholds will be judged by). ``compute_metrics`` writes ``out_file``
    atomically, readable by
    :func:`csdet.cost.deploy_decision.build_decision_rule`; its contents:
    docs/method.md, section 5, "Tuned per-class thresholds". Reported
    (prefix ``tuning``): ``start_decision_cost``, ``tuned_decision_cost``,
    ``start_macro_f1``, ``tuned_macro_f1``, ``num_images``.

    Args:
        out_file: the thresholds JSON to write.
        ann_file: annotation file of the tuning split, recorded in the JSON.
        objective: ``'decision_cost'`` (lowest realised cost) or ``'f1'``.
        candidates: thresholds to try (default 0.05, 0.06, ..., 0.95).
        max_sweeps: coordinate-descent sweeps at most (decision cost).
        provenance: more facts recorded under ``tuned_on`` (config, ...).
        **kwargs: see :class:`DecisionCostMetric` (``score_thr`` is the
            start threshold; no ``decision_rules``).

    Raises:
        ValueError: unknown objective, empty ``out_file`` / ``ann_file``,
            or ``decision_rules`` given.
    """
    default_prefix: Optional[str] = 'tuning'

    def __init__(self,
                 out_file: str,
                 ann_file: str,
                 objective: str = 'decision_cost',
                 candidates: Optional[Sequence[float]] = None,
                 max_sweeps: int = 5,
                 provenance: Optional[Mapping[str, Any]] = None,
                 **kwargs) -> None:
        if kwargs.get('decision_rules') is not None:
            raise ValueError('ThresholdTuningMetric tunes thresholds; it '
                             'does not score decision_rules (use '
                             'DecisionCostMetric for that)')
        kwargs.setdefault('save_plot', False)
        kwargs.setdefault('save_curves', False)
        super().__init__(**kwargs)
        if objective not in OBJECTIVES:
            raise ValueError(f'objective must be one of {OBJECTIVES}, got '
                             f'{objective!r}')
        if not out_file or not ann_file:
            raise ValueError('ThresholdTuningMetric needs out_file (the '
                             'thresholds JSON) and ann_file (the tuning '
                             f'split), got {out_file!r} and {ann_file!r}')
        self.out_file = str(out_file)
        self.ann_file = str(ann_file)
        self.objective = objective
        self.candidates = None if candidates is None else list(candidates)
        self.max_sweeps = int(max_sweeps)
        self.provenance = dict(provenance or {})

    def compute_metrics(self, results: List[Dict[str, Any]]) -> Dict[str,
                                                                      float]:
        # lazy: csdet.cost.threshold_tuning imports the metrics package
        from csdet.cost.deploy_decision import write_thresholds_json
        from csdet.cost.threshold_tuning import tune_class_thresholds

        for record in results:
            self.check_labels(record)
        extended = self.extended_cost_matrix()
        tuned = tune_class_thresholds(
            results,
            self.class_names,
            extended,
            objective=self.objective,
            candidates=self.candidates,
            start_threshold=self.score_thr,
            iou_thr=self.iou_thr,
            max_sweeps=self.max_sweeps)
        payload = dict(
            tuned,
            tuned_on=dict(ann_file=self.ann_file, **self.provenance),
            classes=list(self.class_names),
            extended_cost_matrix=extended)
        path = write_thresholds_json(jsonable(payload), self.out_file)
        print_log(f'{type(self).__name__}: wrote {osp.abspath(path)}',
                  logger='current')
        return dict(
            start_decision_cost=tuned['decision_cost']['start'],
            tuned_decision_cost=tuned['decision_cost']['tuned'],
            start_macro_f1=tuned['macro_f1']['start'],
            tuned_macro_f1=tuned['macro_f1']['tuned'],
            num_images=len(results))
