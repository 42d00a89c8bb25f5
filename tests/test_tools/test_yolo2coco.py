"""tools/dataset_converters/yolo2coco.py: Ultralytics data.yaml -> COCO.

Fixtures are synthetic sets written in tmp_path by
csdet.testing.synthetic.make_synthetic_yolo, edited per test.
"""
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from pycocotools.coco import COCO

from csdet.datasets.converters import ConversionError
from csdet.testing.synthetic import make_synthetic_coco, make_synthetic_yolo
from tool_loader import load_tool

CLASSES = ('crack', 'dent', 'rust')


@pytest.fixture(scope='module')
def tool():
    return load_tool('dataset_converters/yolo2coco.py')


def load(path):
    return json.loads(Path(path).read_text())


def annotations_by_file(root, split):
    """{file name: sorted [(class name, bbox)]} of one COCO file."""
    data = load(Path(root) / 'annotations' / f'{split}.json')
    names = {c['id']: c['name'] for c in data['categories']}
    files = {i['id']: i['file_name'] for i in data['images']}
    result = {name: [] for name in files.values()}
    for ann in data['annotations']:
        result[files[ann['image_id']]].append((names[ann['category_id']],
                                               ann['bbox']))
    return {k: sorted(v) for k, v in result.items()}


def rewrite_yaml(data_yaml, **changes):
    data = yaml.safe_load(Path(data_yaml).read_text())
    data.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del data[key]
    Path(data_yaml).write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def data_yaml(tmp_path):
    """12 synthetic images (3 classes): 9 train, 3 val."""
    return make_synthetic_yolo(tmp_path / 'src', num_images=12,
                               classes=CLASSES, seed=4)


# ----------------------------------------------------------- valid input --
def test_round_trip_matches_synthetic_coco(tool, tmp_path):
    """Same boxes (within 1 px), classes and split as the COCO writer;
    a non-square size catches swapped width and height."""
    coco = make_synthetic_coco(tmp_path / 'coco', num_images=12,
                               classes=CLASSES, seed=4, image_size=(80, 120))
    data_yaml = make_synthetic_yolo(tmp_path / 'src', num_images=12,
                                    classes=CLASSES, seed=4,
                                    image_size=(80, 120))
    manifest = tool.convert(data_yaml, tmp_path / 'out', progress=False)
    assert manifest['split_map'] == dict(train='train', val='test')
    assert manifest['num_images'] == dict(train=9, test=3)
    for split in ('train', 'test'):
        ours = annotations_by_file(tmp_path / 'out', split)
        theirs = annotations_by_file(coco['root'], split)
        assert ours.keys() == theirs.keys()
        for name in theirs:
            assert [c for c, _ in ours[name]] == [c for c, _ in theirs[name]]
            np.testing.assert_allclose([b for _, b in ours[name]],
                                       [b for _, b in theirs[name]], atol=1)
        images = load(tmp_path / 'out/annotations' / f'{split}.json')
        assert {(i['width'], i['height'])
                for i in images['images']} == {(120, 80)}
        COCO(str(tmp_path / 'out/annotations' / f'{split}.json'))
    assert not (tmp_path / 'out/annotations/val.json').exists()
    assert (tmp_path / 'out/images/synthetic_0010.png').resolve() == (
        tmp_path / 'src/images/val/synthetic_0010.png').resolve()
    assert (tmp_path / 'out/splits/test.txt').read_text().split() == [
        'synthetic_0009', 'synthetic_0010', 'synthetic_0011']


def test_names_dict_list_files_and_test_split(tool, data_yaml, tmp_path):
    """names as {id: name}; a split given as a list of a folder and a .txt
    list; a test split makes val -> val.json and test -> test.json."""
    root = data_yaml.parent
    val_images = sorted((root / 'images/val').iterdir())
    (root / 'test.txt').write_text(f'./images/val/{val_images[0].name}\n')
    (root / 'val.txt').write_text(
        ''.join(f'{p}\n' for p in val_images[1:]))  # absolute paths
    moved = root / 'elsewhere'
    moved.mkdir()
    data_yaml.rename(moved / 'data.yaml')
    rewrite_yaml(moved / 'data.yaml', path='..', val=['val.txt'],
                 test='test.txt', names={0: 'crack', 1: 'dent', 2: 'rust'})
    manifest = tool.convert(moved / 'data.yaml', tmp_path / 'out',
                            progress=False)
    assert manifest['num_images'] == dict(train=9, val=2, test=1)
    assert manifest['split_map'] == dict(train='train', val='val',
                                         test='test')
    assert manifest['classes'] == list(CLASSES)
    assert (tmp_path / 'out/splits/test.txt').read_text() == (
        f'{val_images[0].stem}\n')


def test_negatives_are_kept_and_counted(tool, data_yaml, tmp_path, capsys):
    labels = data_yaml.parent / 'labels'
    (labels / 'train' / 'synthetic_0001.txt').unlink()  # no label file
    (labels / 'val' / 'synthetic_0010.txt').write_text('\n')  # empty
    assert tool.main(['--data', str(data_yaml), '--out',
                      str(tmp_path / 'out'), '--no-progress']) == 0
    printed = capsys.readouterr().out
    assert '2 without objects' in printed and '(no objects)' in printed
    manifest = load(tmp_path / 'out/conversion.json')
    assert manifest['num_negatives'] == dict(train=1, test=1)
    assert annotations_by_file(tmp_path / 'out', 'train')[
        'synthetic_0001.png'] == []
    assert annotations_by_file(tmp_path / 'out', 'test')[
        'synthetic_0010.png'] == []


def test_box_edge_within_tolerance_is_clipped(tool, data_yaml, tmp_path):
    label = data_yaml.parent / 'labels/train/synthetic_0000.txt'
    label.write_text('1 0.5 0.5 1.0008 0.25\n')  # edges -0.0004..1.0004
    tool.convert(data_yaml, tmp_path / 'out', progress=False)
    assert annotations_by_file(tmp_path / 'out', 'train')[
        'synthetic_0000.png'] == [('dent', [0, 36, 96, 24])]


# ------------------------------------------------------------ bad inputs --
def _label(root, split, index):
    return root / 'labels' / split / f'synthetic_{index:04d}.txt'


def _append(path, line):
    text = path.read_text()
    path.write_text(text + line + '\n')
    return f'{path}:{len(text.splitlines()) + 1}'


def _segment_line(root):
    where = _append(_label(root, 'train', 2),
                    '0 0.1 0.1 0.2 0.1 0.2 0.3 0.1 0.3')
    return where, 'segment line (9 values)', {}


def _class_out_of_range(root):
    return (_append(_label(root, 'val', 9), '3 0.5 0.5 0.1 0.1'),
            'class id 3 out of range: names has 3 classes', {})


def _not_a_number(root):
    return (_append(_label(root, 'train', 1), '1 0.5 abc 0.1 0.1'),
            "cy 'abc' is not a number", {})


def _box_outside(root):
    return (_append(_label(root, 'train', 3), '0 0.95 0.5 0.2 0.2'),
            'box reaches outside the image', {})


def _bad_yaml(root):
    (root / 'data.yaml').write_text('train: images/train\nval: [oops\n')
    return f'{root / "data.yaml"}:', 'not valid YAML', {}


def _undecodable_image(root):
    path = root / 'images/train/synthetic_0004.png'
    path.write_bytes(b'')
    return path, 'cannot be decoded', {}


def _orphan_label(root):
    (root / 'images/train/synthetic_0005.png').unlink()
    return _label(root, 'train', 5), 'image missing', {}


def _listed_image_missing(root):
    (root / 'val.txt').write_text('images/val/synthetic_0009.png\n'
                                  'images/val/gone.png\n')
    return f'{root / "val.txt"}:2', 'image missing', dict(val='val.txt')


def _missing_val(root):
    return root / 'data.yaml', 'val: missing', dict(val=None)


def _names_with_gap(root):
    return (root / 'data.yaml', 'ids must be 0..2 without gaps',
            dict(names={0: 'crack', 1: 'dent', 3: 'rust'}))


def _val_equals_test(root):
    return (root / 'images/val/synthetic_0009.png', 'in both val and test',
            dict(test='images/val'))


BREAKERS = [_segment_line, _class_out_of_range, _not_a_number, _box_outside,
            _bad_yaml, _undecodable_image, _orphan_label,
            _listed_image_missing, _missing_val, _names_with_gap,
            _val_equals_test]


@pytest.mark.parametrize('breaker', BREAKERS, ids=lambda f: f.__name__[1:])
def test_bad_input_names_the_file_and_writes_nothing(tool, data_yaml,
                                                     tmp_path, capsys,
                                                     breaker):
    where, expected, yaml_changes = breaker(data_yaml.parent)
    if yaml_changes:
        rewrite_yaml(data_yaml, **yaml_changes)
    out = tmp_path / 'out'
    code = tool.main(['--data', str(data_yaml), '--out', str(out),
                      '--no-progress'])
    err = capsys.readouterr().err
    assert code == 1
    assert f'  - {where}' in err and expected in err, err
    if breaker is not _val_equals_test:  # (one problem per val image)
        assert err.count('\n  - ') == 1, err
    assert sorted(os.listdir(tmp_path)) == ['src']  # nothing, no temp folder


def test_all_problems_reported_together_with_lines(tool, data_yaml,
                                                   tmp_path):
    root = data_yaml.parent
    expected = [breaker(root)[:2] for breaker in (
        _segment_line, _class_out_of_range, _not_a_number, _box_outside,
        _undecodable_image, _orphan_label)]
    _append(_label(root, 'train', 2), 'x 2 0.5')  # two faults on one line
    with pytest.raises(ConversionError) as info:
        tool.convert(data_yaml, tmp_path / 'out', progress=False)
    printed = [str(p) for p in info.value.problems]
    assert len(printed) == len(expected) + 1, printed
    for where, text in expected:
        assert any(p.startswith(f'{where}: ') and text in p
                   for p in printed), (where, text)
    assert any(p.startswith(f'{_label(root, "train", 2)}:') and
               '3 value(s), expected 5' in p for p in printed)
    assert sorted(os.listdir(tmp_path)) == ['src']


def test_names_must_match_nc_and_be_unique(tool, data_yaml, tmp_path):
    rewrite_yaml(data_yaml, nc=4, names=['crack', 'dent', 'dent'])
    with pytest.raises(ConversionError) as info:
        tool.convert(data_yaml, tmp_path / 'out', progress=False)
    assert 'must be non-empty and unique' in str(info.value)
    rewrite_yaml(data_yaml, nc=4, names=list(CLASSES))
    with pytest.raises(ConversionError, match='nc is 4 but names has 3'):
        tool.convert(data_yaml, tmp_path / 'out', progress=False)
    with pytest.raises(ConversionError, match='data.yaml not found'):
        tool.convert(tmp_path / 'none.yaml', tmp_path / 'out',
                     progress=False)
    assert not (tmp_path / 'out').exists()


def test_duplicate_image_names_across_splits(tool, data_yaml, tmp_path):
    root = data_yaml.parent
    image = cv2.imread(str(root / 'images/val/synthetic_0009.png'))
    cv2.imwrite(str(root / 'images/train/synthetic_0009.png'), image[::-1])
    (root / 'labels/train/synthetic_0009.txt').write_text('')
    with pytest.raises(ConversionError, match="name 'synthetic_0009.png' "
                       'is also used by'):
        tool.convert(data_yaml, tmp_path / 'out', progress=False)
