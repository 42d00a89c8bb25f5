"""Inference with cost-based decisions (mmdet.apis style)."""
from .inference import DefectDetector, ImageResult, read_image

__all__ = ['DefectDetector', 'ImageResult', 'read_image']
