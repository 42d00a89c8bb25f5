"""NEU-DET in COCO format, as tools/dataset_converters/neu_det.py writes it."""
from __future__ import annotations

from mmdet.registry import DATASETS

from .defect import DefectDataset

# csdet's class order for NEU-DET; category ids 1..6 in the converted JSON.
NEU_DET_CLASSES = ('crazing', 'inclusion', 'patches', 'pitted_surface',
                   'rolled-in_scale', 'scratches')


@DATASETS.register_module()
class NEUDETDataset(DefectDataset):
    """NEU-DET surface defects: six classes, 200 x 200 grey JPEGs.

    A :class:`DefectDataset` with NEU-DET's classes (labels ``0..5`` in
    :data:`NEU_DET_CLASSES` order) and palette built in; the annotation
    file's categories are matched to them by name.
    """

    METAINFO = dict(
        classes=NEU_DET_CLASSES,
        # Distinct hues, one per class, for visualisation.
        palette=[(220, 20, 60), (0, 130, 200), (255, 160, 0), (60, 180, 75),
                 (145, 30, 180), (0, 200, 200)])
    FIXED_CLASSES = True
