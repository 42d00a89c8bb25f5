"""NEU-DET in COCO format, as tools/dataset_converters/neu_det.py writes it."""
from __future__ import annotations

from typing import List

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.registry import DATASETS

# csdet's class order for NEU-DET; category ids 1..6 in the converted JSON.
NEU_DET_CLASSES = ('crazing', 'inclusion', 'patches', 'pitted_surface',
                   'rolled-in_scale', 'scratches')


class CategoryOrderError(ValueError):
    """The annotation file's categories would silently mislabel boxes."""


class _CategoryCheckedCOCO(COCO):
    """COCO API that refuses category lists CocoDataset would mis-map.

    CocoDataset numbers labels in the order the FILE lists its categories,
    not in the order of ``metainfo['classes']``, and drops boxes of any
    category it does not know. Both are silent, so this check makes them
    loud: the file must list exactly the dataset's classes, in its order.
    """

    def get_cat_ids(self, cat_names=(), sup_names=(), cat_ids=()):
        found = super().get_cat_ids(list(cat_names), list(sup_names),
                                    list(cat_ids))
        if cat_names:
            in_file = [cat['name'] for cat in self.dataset['categories']]
            if in_file != list(cat_names):
                raise CategoryOrderError(
                    f'categories in the annotation file {in_file} differ from '
                    f'the dataset classes {list(cat_names)} (names or order); '
                    'labels would be wrong. Re-create the file with '
                    'tools/dataset_converters/neu_det.py.')
        return found


@DATASETS.register_module()
class NEUDETDataset(CocoDataset):
    """NEU-DET surface-defect dataset (six classes, 200x200 grey images).

    A :class:`mmdet.datasets.CocoDataset` with NEU-DET's class names and
    palette built in; every argument is CocoDataset's (``ann_file``,
    ``data_root``, ``data_prefix=dict(img='images/')``, ``pipeline``,
    ``filter_cfg``, ``test_mode``, ...). There is no paper equation here:
    this is data only.

    Labels are ``0..5`` in ``METAINFO['classes']`` order: crazing,
    inclusion, patches, pitted_surface, rolled-in_scale, scratches. Loading
    raises :class:`CategoryOrderError` when the annotation file lists other
    categories or another order (CocoDataset would silently mislabel).

    The JPEGs are grey (three equal channels); the pipeline's
    ``LoadImageFromFile`` (color_type='color', the default) yields
    ``H x W x 3`` uint8 arrays, as every csdet detector expects.
    """

    METAINFO = dict(
        classes=NEU_DET_CLASSES,
        # Distinct hues, one per class, for visualisation.
        palette=[(220, 20, 60), (0, 130, 200), (255, 160, 0), (60, 180, 75),
                 (145, 30, 180), (0, 200, 200)])
    COCOAPI = _CategoryCheckedCOCO

    def load_data_list(self) -> List[dict]:
        try:
            return super().load_data_list()
        except CategoryOrderError as error:
            raise CategoryOrderError(f'{self.ann_file}: {error}') from None

