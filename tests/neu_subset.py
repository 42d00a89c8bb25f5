"""Tiny NEU-DET COCO subsets for the YOLOv5 recipe tests (not a test file)."""
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from csdet.datasets import NEU_DET_CLASSES

NEU_CLASSES = NEU_DET_CLASSES
# Two images of each of four classes; their boxes cover all six classes
# except where a file holds only its own class.
EIGHT_IMAGES = ('crazing_1', 'crazing_2', 'inclusion_1', 'inclusion_2',
                'patches_1', 'pitted_surface_1', 'rolled-in_scale_1',
                'scratches_1')


def write_coco_subset(neu_root: Path, names, out_file: Path) -> int:
    """Convert a few NEU-DET VOC files to a COCO json; returns #boxes.

    VOC corners are 1-based pixel indices: x1 = xmin - 1, x2 = xmax (the
    converter's convention). Categories are listed in NEU_CLASSES order.
    """
    images, annotations = [], []
    for image_id, name in enumerate(names):
        root = ET.parse(neu_root / 'ANNOTATIONS' / f'{name}.xml').getroot()
        size = root.find('size')
        images.append(dict(id=image_id, file_name=f'{name}.jpg',
                           width=int(size.find('width').text),
                           height=int(size.find('height').text)))
        for obj in root.iter('object'):
            box = obj.find('bndbox')
            x1, y1, x2, y2 = (float(box.find(k).text)
                              for k in ('xmin', 'ymin', 'xmax', 'ymax'))
            x1, y1 = x1 - 1, y1 - 1
            annotations.append(dict(
                id=len(annotations) + 1, image_id=image_id,
                category_id=NEU_CLASSES.index(obj.find('name').text),
                bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1),
                iscrowd=0))
    categories = [dict(id=i, name=n) for i, n in enumerate(NEU_CLASSES)]
    out_file.write_text(json.dumps(dict(images=images,
                                        annotations=annotations,
                                        categories=categories)))
    return len(annotations)


def make_neu_data_root(neu_root: Path, out_root: Path, names=EIGHT_IMAGES
                       ) -> Path:
    """A data_root like the converter's (images/ symlinks, annotations/
    train.json and test.json, both holding ``names``)."""
    (out_root / 'images').mkdir(parents=True)
    (out_root / 'annotations').mkdir()
    for name in names:
        (out_root / 'images' / f'{name}.jpg').symlink_to(
            neu_root / 'IMAGES' / f'{name}.jpg')
    for split in ('train', 'test'):
        write_coco_subset(neu_root, names,
                          out_root / 'annotations' / f'{split}.json')
    return out_root
