"""A COCO-format defect dataset whose classes are matched by name."""
from __future__ import annotations

import colorsys
from typing import List, Sequence

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmdet.registry import DATASETS


class CategoryMismatchError(ValueError):
    """The annotation file's categories differ from the dataset's classes."""


def describe_category_mismatch(classes: Sequence[str],
                               in_file: Sequence[str]) -> str:
    """'' when both hold the same names, else what is missing or extra."""
    missing = [name for name in classes if name not in in_file]
    extra = [name for name in in_file if name not in classes]
    if not missing and not extra:
        return ''
    lines = []
    if missing:
        lines.append(f'classes missing from the file: {missing}')
    if extra:
        lines.append(f'categories in the file but not in classes: {extra}')
    shared_cfg = [name for name in classes if name in in_file]
    shared_file = [name for name in in_file if name in classes]
    if shared_cfg != shared_file:
        lines.append(f'(also listed in another order: classes {shared_cfg}, '
                     f'file {shared_file}; order alone is fine)')
    return '; '.join(lines)


class _NameMappedCOCO(COCO):
    """COCO API whose ``get_cat_ids(cat_names=...)`` returns the ids in the
    order of the names given, and refuses names that do not match."""

    def get_cat_ids(self, cat_names=(), sup_names=(), cat_ids=()):
        if not cat_names or sup_names or cat_ids:
            return super().get_cat_ids(list(cat_names), list(sup_names),
                                       list(cat_ids))
        by_name = {}
        for cat in self.dataset['categories']:
            by_name.setdefault(cat['name'], []).append(cat['id'])
        twice = sorted(name for name, ids in by_name.items() if len(ids) > 1)
        if twice:
            raise CategoryMismatchError(
                f'category names listed more than once: {twice}')
        problem = describe_category_mismatch(cat_names, list(by_name))
        if problem:
            raise CategoryMismatchError(problem)
        return [by_name[name][0] for name in cat_names]


def default_palette(num_classes: int) -> List[tuple]:
    """Evenly spaced, saturated hues (RGB), one per class."""
    return [tuple(int(255 * c) for c in colorsys.hsv_to_rgb(
        index / max(num_classes, 1), 0.85, 0.95))
        for index in range(num_classes)]


@DATASETS.register_module()
class DefectDataset(CocoDataset):
    """COCO-format defect dataset, classes matched to the file by name.

    ``metainfo['classes']`` (from the config's ``classes``) fixes the label
    order: label ``i`` is ``classes[i]`` whatever order or ids the file
    gives its categories. Every other argument is CocoDataset's. Images
    without boxes are kept as negatives unless ``filter_cfg`` says
    otherwise.

    Args:
        skip_bad: leave out the images that ``csdet.datasets.check`` found
            bad (``tools/train.py --skip-bad``); their number is logged.

    Raises:
        CategoryMismatchError: a class is missing from the file, the file
            has a category not in ``classes``, or a name is listed twice
            (MMDetection would silently drop or mislabel those boxes).
        ValueError: a box MMDetection would silently drop (zero size,
            outside the image, unknown category id); the message names
            the file and how many.
    """

    METAINFO = dict(classes=(), palette=None)
    COCOAPI = _NameMappedCOCO
    #: True when METAINFO's classes are the dataset's only valid ones.
    FIXED_CLASSES = False

    def __init__(self, *args, skip_bad: bool = False, **kwargs) -> None:
        self.skip_bad = skip_bad
        super().__init__(*args, **kwargs)

    def _load_metainfo(self, metainfo=None) -> dict:
        meta = super()._load_metainfo(metainfo)
        classes = tuple(meta.get('classes') or ())
        if not classes:
            raise CategoryMismatchError(
                f'{type(self).__name__} needs class names: set classes=(...) '
                'in the config (csdet configs read them from the train '
                'annotation file when left None).')
        if not meta.get('palette') or len(meta['palette']) < len(classes):
            meta['palette'] = default_palette(len(classes))
        return meta

    def load_data_list(self) -> List[dict]:
        self._dropped_boxes: List[tuple] = []  # (file_name, description)
        try:
            data_list = super().load_data_list()
        except CategoryMismatchError as error:
            raise CategoryMismatchError(f'{self.ann_file}: {error}') from None
        if self.skip_bad:
            data_list = self._without_bad_images(data_list)
        if self._dropped_boxes:
            shown = '; '.join(f'{name}: {what}'
                              for name, what in self._dropped_boxes[:5])
            raise ValueError(
                f'{self.ann_file}: {len(self._dropped_boxes)} box(es) would be '
                f'dropped by MMDetection: {shown}. Fix the file (python '
                'tools/browse_dataset.py CONFIG --check lists all) or train '
                'with --skip-bad.')
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> dict:
        data_info = super().parse_data_info(raw_data_info)
        raw_anns = [ann for ann in raw_data_info['raw_ann_info']
                    if not ann.get('ignore', False)]
        if len(data_info['instances']) != len(raw_anns):
            kept = {tuple(inst['bbox']) for inst in data_info['instances']}
            for ann in raw_anns:
                x, y, w, h = ann['bbox']
                if (x, y, x + w, y + h) not in kept:
                    self._dropped_boxes.append((
                        raw_data_info['raw_img_info']['file_name'],
                        f"box {ann['bbox']} category {ann['category_id']}"))
        return data_info

    def _without_bad_images(self, data_list: List[dict]) -> List[dict]:
        from mmengine.logging import print_log

        from .check import bad_images_for
        image_dir = self.data_prefix.get('img', '')
        bad = bad_images_for(self.ann_file, image_dir)
        kept = [info for info in data_list
                if info['img_path'][len(image_dir):].lstrip('/') not in bad]
        self._dropped_boxes = [(name, what)
                               for name, what in self._dropped_boxes
                               if name not in bad]
        print_log(f'{self.ann_file}: --skip-bad left out '
                  f'{len(data_list) - len(kept)} bad image(s) of '
                  f'{len(data_list)}', logger='current')
        return kept
