"""Framework-free cost-sensitive math: cost matrices and decisions."""
from .decision import (bayes_min_risk_labels, confusion_cost,
                       expected_costs, extend_cost_matrix, sample_costs)
from .deploy_decision import (Decisions, DecisionRule, argmax_decisions,
                              build_decision_rule, class_thresholds,
                              decision_risks, min_risk_decisions, posterior,
                              threshold_decisions, write_thresholds_json)
from .matrix import (COEFFICIENT_NAMES, NORMALIZE_MODES, PAPER_GROUPS,
                     build_cost_matrix, load_cost_matrix,
                     normalize_cost_matrix, resolve_cost_matrix,
                     validate_cost_matrix)
from .threshold_tuning import (realised_cost, rule_decision_metrics,
                               tune_class_thresholds)

__all__ = [
    'PAPER_GROUPS', 'COEFFICIENT_NAMES', 'NORMALIZE_MODES',
    'build_cost_matrix', 'load_cost_matrix', 'normalize_cost_matrix',
    'resolve_cost_matrix', 'validate_cost_matrix', 'expected_costs',
    'bayes_min_risk_labels', 'sample_costs', 'extend_cost_matrix',
    'confusion_cost', 'Decisions', 'DecisionRule', 'posterior',
    'decision_risks', 'min_risk_decisions', 'argmax_decisions',
    'threshold_decisions', 'build_decision_rule', 'class_thresholds',
    'write_thresholds_json', 'tune_class_thresholds', 'realised_cost',
    'rule_decision_metrics'
]
