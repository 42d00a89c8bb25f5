"""tools/dataset_converters/voc2coco.py: any Pascal VOC folder -> COCO.

Fixtures are small synthetic VOC sets written in tmp_path by
csdet.testing.synthetic.make_synthetic_voc, edited per test.
"""
import json
import os
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from csdet.datasets.converters import ConversionError
from csdet.testing.synthetic import make_synthetic_coco, make_synthetic_voc
from tool_loader import load_tool

CLASSES = ('crack', 'dent', 'rust')


@pytest.fixture(scope='module')
def tool():
    return load_tool('dataset_converters/voc2coco.py')


def load(path):
    return json.loads(Path(path).read_text())


def xml_text(objects, size=(96, 96)):
    """VOC XML; objects = (name, xmin, ymin, xmax, ymax)."""
    parts = [f'<annotation><size><width>{size[0]}</width><height>{size[1]}'
             '</height><depth>3</depth></size>']
    for name, xmin, ymin, xmax, ymax in objects:
        parts.append(f'<object><name>{name}</name><bndbox><xmin>{xmin}'
                     f'</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>'
                     f'{ymax}</ymax></bndbox></object>')
    return ''.join(parts) + '</annotation>'


def grey_png(path, seed=0, size=(96, 96)):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)


def boxes_by_file(out, splits):
    """{file name: sorted [(class name, bbox)]} over the given splits."""
    result = {}
    for split in splits:
        data = load(out / 'annotations' / f'{split}.json')
        names = {c['id']: c['name'] for c in data['categories']}
        files = {i['id']: i['file_name'] for i in data['images']}
        for file_name in files.values():
            result.setdefault(file_name, [])
        for ann in data['annotations']:
            result[files[ann['image_id']]].append(
                (names[ann['category_id']], ann['bbox']))
    return {k: sorted(v) for k, v in result.items()}


@pytest.fixture
def voc(tmp_path):
    """12 synthetic images (3 classes), Annotations/ + JPEGImages/."""
    return make_synthetic_voc(tmp_path / 'src', num_images=12,
                              classes=CLASSES, seed=4)


# ----------------------------------------------------------- valid input --
def test_round_trip_matches_synthetic_coco(tool, tmp_path):
    """VOC written from the synthetic images gives the COCO writer's boxes,
    classes and (through ImageSets) split."""
    coco = make_synthetic_coco(tmp_path / 'coco', num_images=12,
                               classes=CLASSES, seed=4,
                               image_size=(80, 120))
    src = make_synthetic_voc(tmp_path / 'src', num_images=12,
                             classes=CLASSES, seed=4, image_size=(80, 120),
                             image_sets=True)
    manifest = tool.convert(src, tmp_path / 'out', classes=CLASSES,
                            progress=False)
    assert manifest['split_from'] == 'ImageSets/Main lists'
    for split in ('train', 'test'):
        ours = boxes_by_file(tmp_path / 'out', [split])
        assert ours == boxes_by_file(coco['root'], [split])
        sizes = {(i['width'], i['height'])
                 for i in load(tmp_path / 'out' / 'annotations' /
                               f'{split}.json')['images']}
        assert sizes == {(120, 80)}
    assert not (tmp_path / 'out/annotations/val.json').exists()
    assert (tmp_path / 'out/images/synthetic_0003.png').resolve() == (
        src / 'JPEGImages' / 'synthetic_0003.png').resolve()


def test_fraction_split_is_stratified_and_deterministic(tool, tmp_path):
    src = make_synthetic_voc(tmp_path / 'src', num_images=40,
                             classes=CLASSES, seed=1)
    first = tool.convert(src, tmp_path / 'a', test_fraction=0.25,
                         val_fraction=0.25, seed=0, progress=False)
    assert first['num_images'] == dict(train=20, val=10, test=10)
    lists = {s: (tmp_path / 'a/splits' / f'{s}.txt').read_text().split()
             for s in ('train', 'val', 'test')}
    assert sorted(sum(lists.values(), [])) == [f'synthetic_{i:04d}'
                                               for i in range(40)]
    # each majority class is spread over the splits in proportion (+-1)
    strata = {}
    for split in lists:
        data = load(tmp_path / 'a' / 'annotations' / f'{split}.json')
        labels = {}
        for ann in data['annotations']:
            labels.setdefault(ann['image_id'], []).append(ann['category_id'])
        for image in data['images']:
            counts = Counter(labels[image['id']])
            top = min(counts, key=lambda c: (-counts[c], c))
            strata.setdefault(top, Counter())[split] += 1
    for counts in strata.values():
        total = sum(counts.values())
        assert abs(counts['test'] - total / 4) <= 1
        assert abs(counts['val'] - total / 4) <= 1
    again = tool.convert(src, tmp_path / 'b', test_fraction=0.25,
                         val_fraction=0.25, seed=0, progress=False)
    for split in lists:
        assert (tmp_path / 'a/splits' / f'{split}.txt').read_text() == (
            tmp_path / 'b/splits' / f'{split}.txt').read_text()
    assert again['summary'] == first['summary']
    tool.convert(src, tmp_path / 'c', test_fraction=0.25, val_fraction=0.25,
                 seed=1, progress=False)
    assert (tmp_path / 'c/splits/test.txt').read_text() != (
        tmp_path / 'a/splits/test.txt').read_text()


def test_default_split_and_sorted_classes_reported(tool, voc, tmp_path,
                                                   capsys):
    code = tool.main(['--src', str(voc), '--out', str(tmp_path / 'out'),
                      '--no-progress'])
    printed = capsys.readouterr().out
    assert code == 0
    assert 'classes (files (sorted names)): crack, dent, rust' in printed
    manifest = load(tmp_path / 'out' / 'conversion.json')
    assert manifest['num_images'] == dict(train=10, test=2)  # 0.2 of 12
    assert manifest['test_fraction'] == 0.2
    data = load(tmp_path / 'out/annotations/train.json')
    assert [c['name'] for c in data['categories']] == list(CLASSES)
    for split in ('train', 'test'):
        coco = COCO(str(tmp_path / 'out' / 'annotations' / f'{split}.json'))
        assert len(coco.getImgIds()) == manifest['num_images'][split]


def test_classes_option_sets_the_ids(tool, voc, tmp_path):
    order = ('rust', 'crack', 'dent', 'spare')
    tool.convert(voc, tmp_path / 'out', classes=order, progress=False)
    reordered = boxes_by_file(tmp_path / 'out', ['train', 'test'])
    tool.convert(voc, tmp_path / 'plain', progress=False)
    assert reordered == boxes_by_file(tmp_path / 'plain', ['train', 'test'])
    data = load(tmp_path / 'out/annotations/train.json')
    assert [(c['id'], c['name']) for c in data['categories']] == [
        (1, 'rust'), (2, 'crack'), (3, 'dent'), (4, 'spare')]


def test_images_without_objects_are_kept_and_counted(tool, voc, tmp_path,
                                                     capsys):
    for index in range(3):
        grey_png(voc / 'JPEGImages' / f'clean_{index}.png', seed=index)
        (voc / 'Annotations' / f'clean_{index}.xml').write_text(
            xml_text([]))
    assert tool.main(['--src', str(voc), '--out', str(tmp_path / 'out'),
                      '--test-fraction', '0.34', '--no-progress']) == 0
    printed = capsys.readouterr().out
    assert '3 without objects' in printed and '(no objects)' in printed
    manifest = load(tmp_path / 'out/conversion.json')
    assert sum(manifest['num_negatives'].values()) == 3
    assert manifest['num_negatives']['test'] == 1  # own stratum, split too
    files = boxes_by_file(tmp_path / 'out', ['train', 'test'])
    assert [files[f'clean_{i}.png'] for i in range(3)] == [[], [], []]
    negative_row = [r for r in manifest['summary']
                    if r['cls'] == '(no objects)'][0]
    assert negative_row['train_images'] + negative_row['test_images'] == 3


def test_xml_beside_images(tool, tmp_path):
    src = tmp_path / 'src'
    for index in range(6):
        folder = src / ('lot_a' if index % 2 else 'lot_b')
        grey_png(folder / f'part_{index}.png', seed=index)
        (folder / f'part_{index}.xml').write_text(
            xml_text([(CLASSES[index % 3], 3, 4, 20 + index, 30)]))
    manifest = tool.convert(src, tmp_path / 'out', test_fraction=0.5,
                            progress=False)
    assert manifest['layout'] == 'beside'
    assert manifest['num_images'] == dict(train=3, test=3)
    files = boxes_by_file(tmp_path / 'out', ['train', 'test'])
    assert files['part_5.png'] == [('rust', [2, 3, 23, 27])]
    assert (tmp_path / 'out/images/part_5.png').resolve() == (
        src / 'lot_a' / 'part_5.png').resolve()


def test_image_sets_val_becomes_test_without_test_list(tool, voc, tmp_path):
    main = voc / 'ImageSets' / 'Main'
    main.mkdir(parents=True)
    stems = [f'synthetic_{i:04d}' for i in range(12)]
    (main / 'train.txt').write_text('\n'.join(stems[:8]) + '\n')
    (main / 'val.txt').write_text('\n'.join(stems[8:]) + '\n')
    (main / 'crack_train.txt').write_text('not read\n')
    manifest = tool.convert(voc, tmp_path / 'out', progress=False)
    assert manifest['num_images'] == dict(train=8, test=4)
    assert (tmp_path / 'out/splits/test.txt').read_text().split() == (
        stems[8:])
    (main / 'test.txt').write_text(stems[11] + '\n')
    (main / 'val.txt').write_text('\n'.join(stems[8:11]) + '\n')
    manifest = tool.convert(voc, tmp_path / 'out', progress=False)
    assert manifest['num_images'] == dict(train=8, val=3, test=1)


def test_fix_boxes_clips(tool, voc, tmp_path):
    xml = voc / 'Annotations' / 'synthetic_0002.xml'
    xml.write_text(xml_text([('dent', -2, 5, 120, 40)]))
    with pytest.raises(ConversionError, match='outside the 96x96 image'):
        tool.convert(voc, tmp_path / 'out', progress=False)
    manifest = tool.convert(voc, tmp_path / 'out', fix_boxes=True,
                            progress=False)
    assert any('synthetic_0002.xml' in w and 'clipped' in w
               for w in manifest['warnings'])
    files = boxes_by_file(tmp_path / 'out', ['train', 'test'])
    assert files['synthetic_0002.png'] == [('dent', [0, 4, 96, 36])]


# ------------------------------------------------------------ bad inputs --
def _unreadable_xml(src):
    path = src / 'Annotations' / 'synthetic_0001.xml'
    path.write_text('<annotation><object><name>crack')
    return path, 'unparsable XML', []


def _missing_image(src):
    (src / 'JPEGImages' / 'synthetic_0002.png').unlink()
    return src / 'Annotations' / 'synthetic_0002.xml', 'image missing', []


def _undecodable_image(src):
    path = src / 'JPEGImages' / 'synthetic_0003.png'
    path.write_bytes(b'\x89PNG not really')
    return path, 'cannot be decoded', []


def _unknown_class(src):
    path = src / 'Annotations' / 'synthetic_0004.xml'
    path.write_text(xml_text([('crack', 1, 1, 5, 5), ('scuff', 2, 2, 9, 9)]))
    return path, "unknown class name(s) ['scuff']", ['--classes', *CLASSES]


def _image_sets_and_fraction(src):
    main = src / 'ImageSets' / 'Main'
    main.mkdir(parents=True)
    (main / 'train.txt').write_text('synthetic_0000\n')
    (main / 'test.txt').write_text('synthetic_0001\n')
    return main, '--test-fraction cannot be used', ['--test-fraction', '0.3']


def _listed_but_absent(src):
    main = src / 'ImageSets' / 'Main'
    main.mkdir(parents=True)
    stems = [f'synthetic_{i:04d}' for i in range(12)]
    (main / 'train.txt').write_text('\n'.join(stems[:9]) + '\n')
    (main / 'test.txt').write_text('\n'.join(stems[9:] + ['ghost']) + '\n')
    # named with its line: 'ghost' is the 4th line
    return f'{main / "test.txt"}:4', "'ghost' has no image + XML pair", []


def _unlisted_image(src):
    main = src / 'ImageSets' / 'Main'
    main.mkdir(parents=True)
    stems = [f'synthetic_{i:04d}' for i in range(12)]
    (main / 'train.txt').write_text('\n'.join(stems[:9]) + '\n')
    (main / 'test.txt').write_text('\n'.join(stems[9:11]) + '\n')
    return main, '1 image(s) are in no split list (synthetic_0011)', []


def _image_without_xml(src):
    grey_png(src / 'JPEGImages' / 'stray.png')
    return src / 'JPEGImages' / 'stray.png', 'no annotation file', []


def _degenerate_box(src):
    path = src / 'Annotations' / 'synthetic_0005.xml'
    path.write_text(xml_text([('rust', 9, 9, 5, 20)]))
    return path, 'degenerate', []


BREAKERS = [_unreadable_xml, _missing_image, _undecodable_image,
            _unknown_class, _image_sets_and_fraction, _listed_but_absent,
            _unlisted_image, _image_without_xml, _degenerate_box]


@pytest.mark.parametrize('breaker', BREAKERS, ids=lambda f: f.__name__[1:])
def test_bad_input_names_the_file_and_writes_nothing(tool, voc, tmp_path,
                                                     capsys, breaker):
    bad_file, expected, options = breaker(voc)
    out = tmp_path / 'out'
    code = tool.main(['--src', str(voc), '--out', str(out), '--no-progress',
                      *options])
    err = capsys.readouterr().err
    assert code == 1
    assert f'{bad_file}: ' in err and expected in err, err
    assert err.count('\n  - ') == 1, err  # exactly this one problem
    assert sorted(os.listdir(tmp_path)) == ['src']  # nothing, no temp folder


def test_all_problems_reported_together(tool, voc, tmp_path):
    expected = [breaker(voc)[:2] for breaker in (
        _unreadable_xml, _missing_image, _undecodable_image, _unknown_class,
        _image_without_xml, _degenerate_box)]
    with pytest.raises(ConversionError) as info:
        tool.convert(voc, tmp_path / 'out', classes=CLASSES, progress=False)
    problems = info.value.problems
    assert len(problems) == len(expected)
    for path, text in expected:
        assert any(p.path == path and text in p.message for p in problems)
    assert not (tmp_path / 'out').exists()


def test_option_and_output_errors(tool, voc, tmp_path):
    with pytest.raises(ConversionError, match='must be < 1'):
        tool.convert(voc, tmp_path / 'out', test_fraction=0.6,
                     val_fraction=0.4, progress=False)
    with pytest.raises(ConversionError, match='the test split is empty'):
        tool.convert(voc, tmp_path / 'out', test_fraction=0.01,
                     progress=False)
    with pytest.raises(ConversionError, match='inside --src'):
        tool.convert(voc, voc / 'coco', progress=False)
    with pytest.raises(ConversionError, match='source folder not found'):
        tool.convert(tmp_path / 'nowhere', tmp_path / 'out', progress=False)
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'mine.txt').write_text('keep')
    with pytest.raises(ConversionError, match='not empty'):
        tool.convert(voc, foreign, progress=False)
    assert sorted(os.listdir(tmp_path)) == ['foreign', 'src']
    assert os.listdir(foreign) == ['mine.txt']
