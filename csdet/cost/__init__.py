"""Framework-free cost-sensitive math: cost matrices and decisions."""
from .decision import (bayes_min_risk_labels, confusion_cost,
                       expected_costs, extend_cost_matrix, sample_costs)
from .matrix import (COEFFICIENT_NAMES, NORMALIZE_MODES, PAPER_GROUPS,
                     build_cost_matrix, load_cost_matrix,
                     normalize_cost_matrix, resolve_cost_matrix,
                     validate_cost_matrix)

__all__ = [
    'PAPER_GROUPS', 'COEFFICIENT_NAMES', 'NORMALIZE_MODES',
    'build_cost_matrix', 'load_cost_matrix', 'normalize_cost_matrix',
    'resolve_cost_matrix', 'validate_cost_matrix', 'expected_costs',
    'bayes_min_risk_labels', 'sample_costs', 'extend_cost_matrix',
    'confusion_cost'
]
