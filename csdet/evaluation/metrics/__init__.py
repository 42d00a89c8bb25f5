"""Cost-sensitive detection metrics (registered in mmdet's METRICS)."""
from .bayes_relabel_metric import BayesRelabelMetric
from .cost_metric import CostMetric
from .decision_cost_metric import DecisionCostMetric
from .f1_metric import F1Metric
from .positive_cost_metric import PositiveCostMetric
from .threshold_tuning_metric import ThresholdTuningMetric

__all__ = [
    'CostMetric', 'F1Metric', 'DecisionCostMetric', 'BayesRelabelMetric',
    'ThresholdTuningMetric', 'PositiveCostMetric'
]
