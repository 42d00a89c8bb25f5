from .cost_sensitive_loss import CostSensitiveLoss

__all__ = ['CostSensitiveLoss']
