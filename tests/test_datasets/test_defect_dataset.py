"""DefectDataset: classes matched by name, nothing dropped silently."""
import json

import pytest
from mmengine.registry import init_default_scope
from mmdet.registry import DATASETS

from csdet.datasets import CategoryMismatchError, DefectDataset
from csdet.testing.synthetic import make_synthetic_coco
from csdet.utils.config import load_resolved

PAINT = ('dust', 'pit', 'sag', 'scratch')


def infos(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


@pytest.fixture(autouse=True)
def mmdet_scope():
    init_default_scope('mmdet')


@pytest.fixture
def paint(tmp_path):
    return make_synthetic_coco(tmp_path, num_images=6, image_size=48,
                               classes=PAINT, seed=2)


def build(root, classes, ann='train', **kwargs) -> DefectDataset:
    return DATASETS.build(dict(
        type='DefectDataset', data_root=str(root),
        ann_file=f'annotations/{ann}.json', data_prefix=dict(img='images/'),
        metainfo=dict(classes=classes), pipeline=[], **kwargs))


def labels_by_name(dataset, ann_path):
    """Per image, the class NAMES of its boxes via the dataset's labels and
    via the file."""
    ann = json.loads(ann_path.read_text())
    names = {cat['id']: cat['name'] for cat in ann['categories']}
    classes = dataset.metainfo['classes']
    for info in infos(dataset):
        got = sorted(classes[i['bbox_label']] for i in info['instances'])
        want = sorted(names[a['category_id']] for a in ann['annotations']
                      if a['image_id'] == info['img_id'])
        yield got, want


def test_config_order_decides_labels(paint):
    shuffled = ('sag', 'dust', 'scratch', 'pit')
    dataset = build(paint['root'], shuffled)
    assert dataset.metainfo['classes'] == shuffled
    pairs = list(labels_by_name(dataset, paint['train']))
    assert pairs and all(got == want for got, want in pairs)
    assert sum(len(got) for got, _ in pairs) == len(json.loads(
        paint['train'].read_text())['annotations'])


@pytest.mark.parametrize('classes, message', [
    (('dust', 'pit', 'sag', 'scrach'),
     r"missing from the file: \['scrach'\].*not in classes: \['scratch'\]"),
    (('dust', 'pit', 'sag'), r"not in classes: \['scratch'\]"),
    (PAINT + ('rust', ), r"missing from the file: \['rust'\]"),
])
def test_class_name_mistakes_are_refused_with_the_file(paint, classes,
                                                        message):
    with pytest.raises(CategoryMismatchError, match='train.json') as error:
        build(paint['root'], classes)
    assert error.match(message)


def test_duplicate_category_names_are_refused(paint):
    ann = json.loads(paint['train'].read_text())
    ann['categories'].append(dict(id=99, name='dust'))
    paint['train'].write_text(json.dumps(ann))
    with pytest.raises(CategoryMismatchError, match="more than once.*dust"):
        build(paint['root'], PAINT)


def test_images_without_boxes_are_kept_as_negatives(paint):
    ann = json.loads(paint['train'].read_text())
    emptied = ann['images'][0]['id']
    ann['annotations'] = [a for a in ann['annotations']
                          if a['image_id'] != emptied]
    paint['train'].write_text(json.dumps(ann))
    dataset = build(paint['root'], PAINT)
    assert len(dataset) == len(ann['images'])
    empty = [info for info in infos(dataset) if info['img_id'] == emptied]
    assert empty and empty[0]['instances'] == []


def test_a_box_mmdet_would_drop_is_an_error(paint):
    ann = json.loads(paint['train'].read_text())
    ann['annotations'][0]['bbox'] = [5, 5, 0, 10]  # zero width
    paint['train'].write_text(json.dumps(ann))
    with pytest.raises(ValueError, match='1 box.*dropped.*--skip-bad'):
        build(paint['root'], PAINT)


def test_classes_are_required():
    with pytest.raises(CategoryMismatchError, match='needs class names'):
        DATASETS.build(dict(type='DefectDataset', ann_file='x.json',
                            lazy_init=True, pipeline=[]))


def test_a_palette_is_made_for_any_class_count(paint):
    dataset = build(paint['root'], PAINT)
    palette = dataset.metainfo['palette']
    assert len(palette) == 4 and len(set(palette)) == 4


def test_template_config_reads_classes_and_builds(paint):
    cfg = load_resolved('configs/custom/cs_yolov5_custom.py', {
        'data_root': str(paint['root']) + '/', 'img_size': 64,
        'cost.positive_classes': ['pit', 'scratch']})
    assert cfg.classes == PAINT
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert isinstance(dataset, DefectDataset)
    item = dataset[0]
    assert max(item['inputs'].shape[1:]) <= 64 + 32
    assert item['data_samples'].metainfo['instances'] is not None
