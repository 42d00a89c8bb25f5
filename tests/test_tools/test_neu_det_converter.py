"""tools/dataset_converters/neu_det.py (and the VOC / NEU-DET converter
library it uses): VOC -> COCO, split, refusals.

Small VOC fixtures are generated in tmp_path (32 x 32 JPEGs); one
integration test converts the real NEU-DET (``neu_det_root``).
"""
import json
import os
import re
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from csdet.datasets.converters import ConversionError
from csdet.datasets.converters.voc import (VocObject, check_boxes,
                                          parse_voc_xml, voc_box_to_coco)
from csdet.datasets.converters import neu_det as neu
from tool_loader import load_tool
from csdet.datasets import NEU_DET_CLASSES

SIDE = 32
CLASSES = NEU_DET_CLASSES


@pytest.fixture(scope='module')
def conv():
    return load_tool('dataset_converters/neu_det.py')


# ---------------------------------------------------------------- fixtures --
def voc_xml(stem, objects, size=(SIDE, SIDE), with_ext=True):
    """VOC XML; objects = (name, xmin, ymin, xmax, ymax[, diff, trunc])."""
    parts = [f'<annotation><folder>x</folder><filename>{stem}'
             f'{".jpg" if with_ext else ""}</filename>',
             f'<size><width>{size[0]}</width><height>{size[1]}</height>'
             '<depth>1</depth></size>']
    for obj in objects:
        name, xmin, ymin, xmax, ymax = obj[:5]
        difficult, truncated = (obj[5], obj[6]) if len(obj) > 5 else (0, 0)
        parts.append(
            f'<object><name>{name}</name><truncated>{truncated}</truncated>'
            f'<difficult>{difficult}</difficult><bndbox><xmin>{xmin}</xmin>'
            f'<ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax>'
            '</bndbox></object>')
    return ''.join(parts) + '</annotation>'


def jpeg_bytes(seed):
    """A distinct small grey JPEG per seed."""
    rng = np.random.default_rng(seed)
    grey = rng.integers(0, 256, (SIDE, SIDE), dtype=np.uint8)
    ok, data = cv2.imencode('.jpg', np.repeat(grey[:, :, None], 3, axis=2))
    assert ok
    return data.tobytes()


def default_objects(cls, index):
    """Boxes of the file's class, plus one 'foreign' label on some files."""
    objects = [(cls, 1 + index % 3, 2, 12 + index % 5, 20)]
    if index % 4 == 0:
        objects.append(('inclusion' if cls != 'inclusion' else 'patches',
                        5, 5, SIDE, SIDE, 1, 1))
    return objects


def make_voc(root, per_class=6, layout='original', classes=CLASSES,
             objects_of=default_objects):
    """Write a VOC set; returns {stem: (image_path, xml_path)}."""
    root = Path(root)
    files = {}
    for class_index, cls in enumerate(classes):
        for index in range(1, per_class + 1):
            stem = f'{cls}_{index}'
            if layout == 'original':
                image_dir, xml_dir = root / 'IMAGES', root / 'ANNOTATIONS'
            else:  # redistributed: own split ignored, class subfolders
                part = 'train' if index % 3 else 'validation'
                image_dir = root / part / 'images' / cls
                xml_dir = root / part / 'annotations'
            image_dir.mkdir(parents=True, exist_ok=True)
            xml_dir.mkdir(parents=True, exist_ok=True)
            image_path = image_dir / f'{stem}.jpg'
            xml_path = xml_dir / f'{stem}.xml'
            image_path.write_bytes(jpeg_bytes(class_index * 1000 + index))
            xml_path.write_text(
                voc_xml(stem, objects_of(cls, index), with_ext=index % 2))
            files[stem] = (image_path, xml_path)
    return files


def load_json(path):
    return json.loads(Path(path).read_text())


def stems_of(coco_dict):
    return {Path(img['file_name']).stem for img in coco_dict['images']}


# ------------------------------------------------------- unit functions --
@pytest.mark.parametrize('voc, coco', [
    ((1, 1, 200, 200), [0, 0, 200, 200]),
    ((5, 7, 10, 9), [4, 6, 6, 3]),
    ((3, 3, 3, 3), [2, 2, 1, 1]),  # one pixel
])
def test_voc_box_to_coco(conv, voc, coco):
    assert voc_box_to_coco(*voc) == coco


def test_parse_voc_xml_fields(conv, tmp_path):
    path = tmp_path / 'a_1.xml'
    path.write_text(voc_xml('a_1', [('patches', 2, 3, 10, 11, 1, 0),
                                    (' scratches ', 1, 1, 5, 6)],
                            size=(40, 30), with_ext=False))
    parsed = parse_voc_xml(path)
    assert (parsed.width, parsed.height, parsed.filename) == (40, 30, 'a_1')
    assert parsed.objects[0] == VocObject('patches', 2, 3, 10, 11, 1, 0)
    assert parsed.objects[1].name == 'scratches'  # whitespace stripped


def test_check_boxes_clips_and_drops(conv):
    objects = [VocObject('patches', 0, 5, 40, 20),      # outside
               VocObject('patches', 10, 5, 4, 20),      # degenerate
               VocObject('patches', 40, 40, 50, 50),    # wholly out
               VocObject('patches', 1, 1, SIDE, SIDE)]  # fine
    kept, errors, notes = check_boxes(objects, SIDE, SIDE, False)
    assert kept == objects[3:] and len(errors) == 3 and not notes
    assert 'outside' in errors[0] and 'degenerate' in errors[1]
    kept, errors, notes = check_boxes(objects, SIDE, SIDE, True)
    assert not errors and len(notes) == 3
    assert kept == [VocObject('patches', 1, 5, SIDE, 20), objects[3]]


# ------------------------------------------------------ valid conversion --
def test_converts_original_layout(conv, tmp_path):
    make_voc(tmp_path / 'src', per_class=6)
    out = tmp_path / 'out'
    manifest = conv.convert(tmp_path / 'src', out, seed=0, test_per_class=2,
                            progress=False)
    train, test = (load_json(out / 'annotations' / f'{s}.json')
                   for s in ('train', 'test'))
    assert len(train['images']) == 24 and len(test['images']) == 12
    assert manifest['num_images'] == dict(train=24, test=12)
    # splits/*.txt hold the same stems as the JSON files
    for split, data in (('train', train), ('test', test)):
        listed = (out / 'splits' / f'{split}.txt').read_text().split()
        assert set(listed) == stems_of(data) and len(listed) == len(
            data['images'])
    # categories 1..6 in class order; ids unique across both files
    assert [c['name'] for c in train['categories']] == list(CLASSES)
    assert [c['id'] for c in train['categories']] == [1, 2, 3, 4, 5, 6]
    image_ids = [i['id'] for d in (train, test) for i in d['images']]
    ann_ids = [a['id'] for d in (train, test) for a in d['annotations']]
    assert len(set(image_ids)) == 36 and len(set(ann_ids)) == len(ann_ids)
    # images reachable through symlinks pointing at the sources
    for img in train['images'] + test['images']:
        link = out / 'images' / img['file_name']
        assert link.is_symlink()
        assert link.resolve() == (tmp_path / 'src' / 'IMAGES' /
                                  img['file_name']).resolve()
        assert (img['width'], img['height']) == (SIDE, SIDE)
    for split in ('train', 'test'):  # pycocotools reads both
        coco = COCO(str(out / 'annotations' / f'{split}.json'))
        assert len(coco.getImgIds()) == (24 if split == 'train' else 12)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.out')]


def test_annotation_fields_and_labels(conv, tmp_path):
    """Label = object <name>; coords converted; difficult/truncated kept."""
    make_voc(tmp_path / 'src', per_class=4)
    out = tmp_path / 'out'
    conv.convert(tmp_path / 'src', out, test_per_class=1, progress=False)
    data = [load_json(out / 'annotations' / f'{s}.json')
            for s in ('train', 'test')]
    images = {i['id']: i['file_name'] for d in data for i in d['images']}
    anns = [a for d in data for a in d['annotations']]
    by_file = {}
    for ann in anns:
        by_file.setdefault(images[ann['image_id']], []).append(ann)
    # crazing_4.jpg: crazing box (1 + 4 % 3 = 2, 2, 12 + 4 % 5 = 16, 20)
    # and a foreign 'inclusion' box (5, 5, 32, 32) marked difficult/truncated
    first, foreign = sorted(by_file['crazing_4.jpg'], key=lambda a: a['id'])
    assert first['category_id'] == 1 and first['bbox'] == [1, 1, 15, 19]
    assert first['area'] == 15 * 19
    assert (first['difficult'], first['truncated'], first['iscrowd']) == (
        0, 0, 0)
    assert foreign['category_id'] == 2  # inclusion, in a crazing file
    assert foreign['bbox'] == [4, 4, SIDE - 4, SIDE - 4]
    assert (foreign['difficult'], foreign['truncated'],
            foreign['iscrowd']) == (1, 1, 0)
    assert len(anns) == 6 * 4 + 6  # one extra box on every 4th file


def test_full_image_box_is_whole_image(conv, tmp_path):
    make_voc(tmp_path / 'src', per_class=2,
             objects_of=lambda cls, i: [(cls, 1, 1, SIDE, SIDE)])
    conv.convert(tmp_path / 'src', tmp_path / 'out', test_per_class=1,
                 progress=False)
    anns = load_json(tmp_path / 'out/annotations/train.json')['annotations']
    assert all(a['bbox'] == [0, 0, SIDE, SIDE] for a in anns)
    assert all(a['area'] == SIDE * SIDE for a in anns)


def test_redistributed_layout_gives_same_dataset(conv, tmp_path):
    """The redistribution's own split is ignored: same names, same split."""
    make_voc(tmp_path / 'orig', per_class=6, layout='original')
    make_voc(tmp_path / 'redis', per_class=6, layout='redistributed')
    assert (tmp_path / 'redis/validation/images/crazing/crazing_3.jpg'
            ).is_file()
    for name in ('orig', 'redis'):
        manifest = conv.convert(tmp_path / name, tmp_path / f'out_{name}',
                                seed=3, test_per_class=2, progress=False)
        assert manifest['layout'] == {'orig': 'original',
                                      'redis': 'redistributed'}[name]
    for split in ('train', 'test'):
        a = load_json(tmp_path / f'out_orig/annotations/{split}.json')
        b = load_json(tmp_path / f'out_redis/annotations/{split}.json')
        assert a['images'] == b['images']
        assert a['annotations'] == b['annotations']
    assert (tmp_path / 'out_redis/images/crazing_3.jpg').resolve() == (
        tmp_path / 'redis/validation/images/crazing/crazing_3.jpg').resolve()


# ----------------------------------------------------------------- split --
def _split_stems(conv, src, seed, test_per_class):
    samples = neu.collect_samples(src, progress=False).samples
    train, test = neu.split_samples(samples, test_per_class, seed)
    return [s.stem for s in train], [s.stem for s in test]


def test_split_is_stratified_and_deterministic(conv, tmp_path):
    """250/50 per class, scaled down to 8/2; same seed -> same split."""
    make_voc(tmp_path / 'src', per_class=10)
    train0, test0 = _split_stems(conv, tmp_path / 'src', 0, 2)
    assert _split_stems(conv, tmp_path / 'src', 0, 2) == (train0, test0)
    count = lambda stems: Counter(s.rsplit('_', 1)[0] for s in stems)  # noqa
    assert count(test0) == {c: 2 for c in CLASSES}
    assert count(train0) == {c: 8 for c in CLASSES}
    assert set(train0).isdisjoint(test0) and len(train0 + test0) == 60
    # another seed gives another split (45 choices per class, 6 classes)
    assert _split_stems(conv, tmp_path / 'src', 1, 2)[1] != test0


def test_split_ignores_listing_order(conv, tmp_path):
    make_voc(tmp_path / 'src', per_class=10)
    samples = neu.collect_samples(tmp_path / 'src', progress=False).samples
    reference = neu.split_samples(samples, 2, 5)
    shuffled = list(reversed(samples))
    again = neu.split_samples(shuffled, 2, 5)
    assert [[s.stem for s in part] for part in again] == [
        [s.stem for s in part] for part in reference]


def test_byte_identical_images_share_a_split(conv, tmp_path):
    files = make_voc(tmp_path / 'src', per_class=6)
    twin_a, twin_b = files['patches_1'][0], files['patches_5'][0]
    twin_b.write_bytes(twin_a.read_bytes())
    triple = [files[f'scratches_{i}'][0] for i in (2, 3, 6)]
    for path in triple[1:]:
        path.write_bytes(triple[0].read_bytes())
    together = Counter()
    for seed in range(12):
        train, test = _split_stems(conv, tmp_path / 'src', seed, 2)
        for group in (('patches_1', 'patches_5'),
                      ('scratches_2', 'scratches_3', 'scratches_6')):
            sides = {stem in test for stem in group}
            assert len(sides) == 1, (seed, group)
            together[group[0], sides.pop()] += 1
        count = Counter(s.rsplit('_', 1)[0] for s in test)
        assert count == {c: 2 for c in CLASSES}  # quota still exact
    # the pair does land in test for some seeds (not kept out of it)
    assert together['patches_1', True] > 0
    manifest = conv.convert(tmp_path / 'src', tmp_path / 'out',
                            test_per_class=2, progress=False)
    assert ['patches_1', 'patches_5'] in manifest['byte_identical_groups']


def test_split_too_small_class_is_an_error(conv, tmp_path):
    make_voc(tmp_path / 'src', per_class=3)
    with pytest.raises(ConversionError, match='cannot put 4 images'):
        conv.convert(tmp_path / 'src', tmp_path / 'out', test_per_class=4,
                     progress=False)
    assert not (tmp_path / 'out').exists()



def test_val_per_class_carves_train_only(conv, tmp_path):
    """val comes out of train, per file class; test.json is unchanged."""
    files = make_voc(tmp_path / 'src', per_class=10)
    twin_a, twin_b = files['patches_1'][0], files['patches_5'][0]
    twin_b.write_bytes(twin_a.read_bytes())
    conv.convert(tmp_path / 'src', tmp_path / 'plain', seed=2,
                 test_per_class=2, progress=False)
    manifest = conv.convert(tmp_path / 'src', tmp_path / 'val', seed=2,
                            test_per_class=2, val_per_class=3,
                            progress=False)
    assert manifest['num_images'] == dict(train=30, val=18, test=12)
    assert (tmp_path / 'val/annotations/test.json').read_bytes() == (
        tmp_path / 'plain/annotations/test.json').read_bytes()
    lists = {split: (tmp_path / 'val/splits' / f'{split}.txt').read_text(
    ).split() for split in ('train', 'val', 'test')}
    plain_train = (tmp_path / 'plain/splits/train.txt').read_text().split()
    assert sorted(lists['train'] + lists['val']) == sorted(plain_train)
    assert Counter(s.rsplit('_', 1)[0] for s in lists['val']) == {
        c: 3 for c in CLASSES}
    sides = {split for split, stems in lists.items()
             for stem in ('patches_1', 'patches_5') if stem in stems}
    assert len(sides) == 1  # byte-identical pair still together
    val = load_json(tmp_path / 'val/annotations/val.json')
    assert stems_of(val) == set(lists['val'])
    assert val['info']['split'] == 'val'
    # deterministic for a seed, different for another
    samples = neu.collect_samples(tmp_path / 'src', progress=False).samples
    train, _ = neu.split_samples(samples, 2, 2)
    again = neu.carve_val(train, 3, 2)[1]
    assert sorted(s.stem for s in again) == sorted(lists['val'])
    assert neu.carve_val(train, 3, 3)[1] != again
    with pytest.raises(ConversionError, match='cannot put 9 images in the '
                       'val split'):
        conv.convert(tmp_path / 'src', tmp_path / 'too_many',
                     test_per_class=2, val_per_class=9, progress=False)
    assert not (tmp_path / 'too_many').exists()

# ------------------------------------------------------------ bad inputs --
def _break_xml_syntax(files):
    files['crazing_2'][1].write_text('<annotation><object><name>crazing')
    return files['crazing_2'][1], 'unparsable XML'


def _remove_image(files):
    files['inclusion_3'][0].unlink()
    return files['inclusion_3'][1], 'image missing'


def _corrupt_image(files):
    files['patches_2'][0].write_bytes(b'definitely not a jpeg')
    return files['patches_2'][0], 'cannot be decoded'


def _truncate_image(files):
    path = files['pitted_surface_3'][0]
    path.write_bytes(path.read_bytes()[:-40])
    return path, 'cannot be decoded'


def _unknown_class(files):
    files['scratches_1'][1].write_text(
        voc_xml('scratches_1', [('scratches', 1, 1, 5, 5),
                                ('rust', 2, 2, 6, 6)]))
    return files['scratches_1'][1], "unknown class name(s) ['rust']"


def _box_outside(files):
    files['pitted_surface_2'][1].write_text(
        voc_xml('pitted_surface_2', [('pitted_surface', 3, 3, SIDE + 5, 9)]))
    return files['pitted_surface_2'][1], 'outside the 32x32 image'


def _degenerate_box(files):
    # xmin == xmax is one pixel wide (valid); xmax < xmin covers nothing.
    files['rolled-in_scale_1'][1].write_text(
        voc_xml('rolled-in_scale_1', [('rolled-in_scale', 9, 3, 9, 9),
                                      ('rolled-in_scale', 12, 3, 10, 9)]))
    return files['rolled-in_scale_1'][1], 'box #2 rolled-in_scale [12, 3, '


def _empty_annotation(files):
    files['crazing_3'][1].write_text(voc_xml('crazing_3', []))
    return files['crazing_3'][1], 'empty annotation'


def _orphan_image(files):
    files['crazing_1'][1].unlink()
    return files['crazing_1'][0], 'no annotation file'


BREAKERS = [_break_xml_syntax, _remove_image, _corrupt_image, _truncate_image,
            _unknown_class, _box_outside, _degenerate_box, _empty_annotation,
            _orphan_image]


@pytest.mark.parametrize('breaker', BREAKERS, ids=lambda f: f.__name__[1:])
def test_bad_input_is_reported_and_nothing_written(conv, tmp_path, capsys,
                                                   breaker):
    files = make_voc(tmp_path / 'src', per_class=3)
    bad_file, expected = breaker(files)
    out = tmp_path / 'out'
    with pytest.raises(ConversionError) as info:
        conv.convert(tmp_path / 'src', out, test_per_class=1,
                     progress=False)
    problems = info.value.problems
    assert len(problems) == 1, problems
    assert problems[0].path == bad_file and expected in problems[0].message
    # the command line reports it with the file name and exits non-zero
    code = conv.main(['--src', str(tmp_path / 'src'), '--out', str(out),
                      '--test-per-class', '1', '--no-progress'])
    err = capsys.readouterr().err
    assert code == 1 and str(bad_file) in err and expected in err
    assert not out.exists()
    assert os.listdir(tmp_path) == ['src']  # no temp folder left behind


def test_all_problems_are_collected(conv, tmp_path):
    files = make_voc(tmp_path / 'src', per_class=3)
    expected = {breaker(files) for breaker in BREAKERS}
    with pytest.raises(ConversionError) as info:
        conv.convert(tmp_path / 'src', tmp_path / 'out', test_per_class=1,
                     progress=False)
    problems = info.value.problems
    for path, text in expected:
        assert any(p.path == path and text in p.message for p in problems), (
            path, text)
    assert len(problems) == len(BREAKERS)  # one per broken file
    assert not (tmp_path / 'out').exists()


def test_fix_boxes_clips_and_drops(conv, tmp_path):
    files = make_voc(tmp_path / 'src', per_class=3)
    files['patches_1'][1].write_text(voc_xml('patches_1', [
        ('patches', -3, 4, SIDE + 9, 10),  # clipped to 1..32
        ('patches', 8, 8, 6, 12),  # degenerate: dropped
        ('patches', SIDE + 2, 1, SIDE + 9, 5),  # wholly outside: dropped
    ]))
    out = tmp_path / 'out'
    manifest = conv.convert(tmp_path / 'src', out, test_per_class=1,
                            fix_boxes=True, progress=False)
    data = [load_json(out / 'annotations' / f'{s}.json')
            for s in ('train', 'test')]
    image_id = next(i['id'] for d in data for i in d['images']
                    if i['file_name'] == 'patches_1.jpg')
    boxes = [a['bbox'] for d in data for a in d['annotations']
             if a['image_id'] == image_id]
    assert boxes == [[0, 3, SIDE, 7]]
    notes = [w for w in manifest['warnings'] if 'patches_1.xml' in w]
    assert len(notes) == 3
    assert sum('dropped' in w for w in notes) == 2
    # without --fix-boxes the same input is refused
    with pytest.raises(ConversionError):
        conv.convert(tmp_path / 'src', tmp_path / 'out2', test_per_class=1,
                     progress=False)


def test_fix_boxes_never_keeps_an_empty_image(conv, tmp_path):
    files = make_voc(tmp_path / 'src', per_class=3)
    files['patches_1'][1].write_text(
        voc_xml('patches_1', [('patches', 8, 8, 6, 12)]))
    with pytest.raises(ConversionError, match='dropped every box'):
        conv.convert(tmp_path / 'src', tmp_path / 'out', test_per_class=1,
                     fix_boxes=True, progress=False)


def test_failed_rerun_keeps_previous_output(conv, tmp_path):
    files = make_voc(tmp_path / 'src', per_class=3)
    out = tmp_path / 'out'
    conv.convert(tmp_path / 'src', out, test_per_class=1, progress=False)
    before = {p.relative_to(out): p.read_bytes()
              for p in out.rglob('*') if p.is_file()}
    _corrupt_image(files)
    with pytest.raises(ConversionError):
        conv.convert(tmp_path / 'src', out, seed=7, test_per_class=1,
                     progress=False)
    after = {p.relative_to(out): p.read_bytes()
             for p in out.rglob('*') if p.is_file() and p.suffix != '.jpg'}
    assert after == {k: v for k, v in before.items() if k.suffix != '.jpg'}
    assert sorted(os.listdir(tmp_path)) == ['out', 'src']


def test_rerun_replaces_own_output_but_not_foreign_folder(conv, tmp_path):
    make_voc(tmp_path / 'src', per_class=3)
    out = tmp_path / 'out'
    conv.convert(tmp_path / 'src', out, seed=0, test_per_class=1,
                 progress=False)
    conv.convert(tmp_path / 'src', out, seed=1, test_per_class=1,
                 progress=False)
    assert load_json(out / 'conversion.json')['seed'] == 1
    assert sorted(os.listdir(tmp_path)) == ['out', 'src']
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'keep.txt').write_text('mine')
    with pytest.raises(ConversionError, match='not empty'):
        conv.convert(tmp_path / 'src', foreign, test_per_class=1,
                     progress=False)
    assert os.listdir(foreign) == ['keep.txt']


def test_classes_override_and_size_mismatch_warning(conv, tmp_path):
    files = make_voc(tmp_path / 'src', per_class=3)
    files['crazing_2'][1].write_text(voc_xml(
        'crazing_2', [('rust', 1, 1, 4, 4)], size=(64, 48)))
    classes = list(CLASSES) + ['rust']
    out = tmp_path / 'out'
    manifest = conv.convert(tmp_path / 'src', out, test_per_class=1,
                            classes=classes, progress=False)
    data = load_json(out / 'annotations' / 'train.json')
    assert [c['name'] for c in data['categories']] == classes
    mismatch = [w for w in manifest['warnings'] if 'crazing_2.xml' in w]
    assert len(mismatch) == 1 and '64x48' in mismatch[0]
    everything = data['annotations'] + load_json(
        out / 'annotations' / 'test.json')['annotations']
    assert sum(a['category_id'] == 7 for a in everything) == 1


def test_cli_success_prints_summary(conv, tmp_path, capsys):
    make_voc(tmp_path / 'src', per_class=3)
    code = conv.main(['--src', str(tmp_path / 'src'), '--out',
                      str(tmp_path / 'out'), '--test-per-class', '1',
                      '--seed', '4', '--no-progress'])
    printed = capsys.readouterr().out
    assert code == 0
    for cls in CLASSES:
        assert cls in printed
    # total row: 12 train images, then their boxes, 6 test images
    assert re.search(r'total\D+12\D+\d+\D+6\D', printed), printed


def test_unknown_layout_is_explained(conv, tmp_path):
    (tmp_path / 'src' / 'stuff').mkdir(parents=True)
    with pytest.raises(ConversionError, match='unknown layout'):
        conv.convert(tmp_path / 'src', tmp_path / 'out', progress=False)


# ------------------------------------------------------------- real data --
def test_real_neu_det(conv, neu_det_root, tmp_path):
    """Whole NEU-DET: counts from its README, split rules, COCO loading."""
    out = tmp_path / 'NEU-DET'
    manifest = conv.convert(neu_det_root, out, seed=0, test_per_class=50,
                            progress=False)
    assert manifest['warnings'] == []
    cocos = {s: COCO(str(out / 'annotations' / f'{s}.json'))
             for s in ('train', 'test')}
    assert len(cocos['train'].getImgIds()) == 1500
    assert len(cocos['test'].getImgIds()) == 300
    anns = [a for c in cocos.values() for a in c.dataset['annotations']]
    assert len(anns) == 4189
    names = {c['id']: c['name'] for c in cocos['train'].dataset['categories']}
    assert Counter(names[a['category_id']] for a in anns) == {
        'crazing': 689, 'inclusion': 1011, 'patches': 881,
        'pitted_surface': 432, 'rolled-in_scale': 628, 'scratches': 548}
    assert sum(a['difficult'] for a in anns) == 81
    assert sum(a['truncated'] for a in anns) == 1507
    for split, per_class in (('train', 250), ('test', 50)):
        files = [i['file_name'] for i in cocos[split].dataset['images']]
        assert Counter(f.rsplit('_', 1)[0] for f in files) == {
            c: per_class for c in CLASSES}
        assert all(i['width'] == i['height'] == 200
                   for i in cocos[split].dataset['images'])
    boxes = np.array([a['bbox'] for a in anns], float)
    assert boxes[:, :2].min() >= 0 and (boxes[:, 2:] >= 1).all()
    assert (boxes[:, :2] + boxes[:, 2:]).max() == 200
    test_stems = set((out / 'splits/test.txt').read_text().split())
    assert ('patches_101' in test_stems) == ('patches_105' in test_stems)
    assert ['patches_101', 'patches_105'] in manifest['byte_identical_groups']
    assert (out / 'images' / 'scratches_300.jpg').resolve() == (
        neu_det_root / 'IMAGES' / 'scratches_300.jpg').resolve()


def test_real_neu_det_val_per_class(conv, neu_det_root, tmp_path, capsys):
    """--val-per-class 25: 1,350/150/300, test.json as in the default run."""
    assert conv.main(['--src', str(neu_det_root), '--out',
                      str(tmp_path / 'default'), '--no-progress']) == 0
    assert conv.main(['--src', str(neu_det_root), '--out',
                      str(tmp_path / 'val'), '--val-per-class', '25',
                      '--no-progress']) == 0
    assert '1350 train / 150 val / 300 test images' in capsys.readouterr(
    ).out
    cocos = {s: COCO(str(tmp_path / 'val' / 'annotations' / f'{s}.json'))
             for s in ('train', 'val', 'test')}
    for split, per_class in (('train', 225), ('val', 25), ('test', 50)):
        files = [i['file_name'] for i in cocos[split].dataset['images']]
        assert Counter(f.rsplit('_', 1)[0] for f in files) == {
            c: per_class for c in CLASSES}
    assert (tmp_path / 'val/annotations/test.json').read_bytes() == (
        tmp_path / 'default/annotations/test.json').read_bytes()
    assert sum(len(c.dataset['annotations']) for c in cocos.values()) == 4189
    val_stems = set((tmp_path / 'val/splits/val.txt').read_text().split())
    assert ('patches_101' in val_stems) == ('patches_105' in val_stems)
