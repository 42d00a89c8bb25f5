"""An exported ``.onnx`` file behind :class:`csdet.apis.DefectDetector`."""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np


class OnnxBackend:
    """Runs ``csdet.deploy.onnx_runtime.OnnxDetector`` (onnxruntime, its
    own resize / normalisation / decoding from the file's metadata).

    Raises:
        UserInputError: missing file, or class names in the file that
            differ from the config's.
    """

    def __init__(self, cfg, path: str) -> None:
        import os.path as osp

        from csdet.deploy.onnx_runtime import OnnxDetector
        from csdet.utils.runner_setup import UserInputError
        if not osp.isfile(path):
            raise UserInputError(f'ONNX file not found: {path} (write one '
                                 'with tools/export.py)')
        self.detector = OnnxDetector(path)
        if tuple(self.detector.classes) != tuple(cfg.classes):
            raise UserInputError(
                f'{path} was exported for classes {list(self.detector.classes)}'
                f' but the config has {list(cfg.classes)}')

    def __call__(self, images: Sequence[np.ndarray]
                 ) -> List[Dict[str, np.ndarray]]:
        outputs = []
        for det in self.detector.predict_images(list(images)):
            outputs.append({key: np.asarray(det[key], dtype)
                            for key, dtype in (('bboxes', np.float64),
                                               ('labels', np.int64),
                                               ('scores', np.float64),
                                               ('cls_probs', np.float64))})
        return outputs
