"""Deployment: ONNX export of csdet detectors and an onnxruntime runner.

``onnx_runtime`` is self-contained (NumPy + onnxruntime): copy it next to
an exported file to run it without torch, mmcv or csdet.
"""
from .onnx_export import (ExportNotSupported, build_detector,
                          check_exportable, export_onnx, model_kind)
from .onnx_runtime import (OnnxDetector, normalize_batch, postprocess,
                           prepare_image, read_metadata)

__all__ = [
    'ExportNotSupported', 'build_detector', 'check_exportable',
    'export_onnx', 'model_kind', 'OnnxDetector', 'prepare_image',
    'normalize_batch', 'postprocess', 'read_metadata'
]
