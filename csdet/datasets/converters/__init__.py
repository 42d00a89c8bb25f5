"""Dataset converters to COCO JSON (Pascal VOC, YOLO-txt, NEU-DET).

Each converter validates its whole input first and reports every problem at
once (:class:`ConversionError`, each :class:`Problem` naming its file), then
writes ``OUT/annotations/<split>.json``, ``OUT/images/`` (symlinks),
``OUT/splits/<split>.txt`` and ``OUT/conversion.json`` atomically. The
command-line tools are in ``tools/dataset_converters/``.
"""
from .errors import ConversionError, Problem
from .records import Box, ImageRecord

__all__ = ['Box', 'ConversionError', 'ImageRecord', 'Problem']
