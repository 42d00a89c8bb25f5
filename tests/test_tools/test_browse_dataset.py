"""tools/browse_dataset.py on the synthetic set: before/after PNGs, --check."""
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from csdet.testing.synthetic import make_synthetic_coco
from tool_loader import load_tool

REPO = Path(__file__).resolve().parents[2]
CLASSES = ('crazing', 'inclusion', 'patches')
SIZE = 64  # synthetic images and pipeline size
PANEL = 384  # browse_dataset.MIN_PANEL_HEIGHT: 64 px images are drawn x6
TITLE = 24  # browse_dataset.TITLE_HEIGHT

CONFIG = """
_base_ = '{repo}/configs/_base_/default_runtime.py'
data_root = '{root}/'
metainfo = dict(classes={classes!r})
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
             'pad_param', 'flip', 'flip_direction')
pre_transform = [dict(type='LoadImageFromFile', color_type='color'),
                 dict(type='LoadAnnotations', with_bbox=True)]
train_pipeline = [
    dict(type='YOLOv5Mosaic', img_scale={size}, pad_val=114.0, prob=1.0),
    dict(type='YOLOv5RandomPerspective', degrees=0.0, translate=0.1,
         scale=0.5, shear=0.0, perspective=0.0,
         border=(-{size} // 2, -{size} // 2), pad_val=114.0),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
# As the YOLOv5 configs: boxes loaded after the letterbox, in original px.
test_pipeline = [
    dict(type='LoadImageFromFile', color_type='color'),
    dict(type='LetterBox', scale={size}, pad_to='stride', size_divisor=32,
         extra_pad_ratio=0.5, pad_val=114.0),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=meta_keys),
]
train_dataloader = dict(batch_size=2, num_workers=0, dataset=dict(
    type='MultiImageMixDataset', pipeline=train_pipeline,
    dataset=dict(type='CocoDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/train.json',
                 data_prefix=dict(img='images/'), pipeline=pre_transform)))
test_dataloader = dict(batch_size=2, num_workers=0, dataset=dict(
    type='CocoDataset', data_root=data_root, metainfo=metainfo,
    ann_file='annotations/test.json', data_prefix=dict(img='images/'),
    test_mode=True, pipeline=test_pipeline))
"""


def browse_tool():
    return load_tool('browse_dataset.py')


@pytest.fixture(scope='module')
def tool():
    return browse_tool()


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))


@pytest.fixture
def synthetic(tmp_path):
    paths = make_synthetic_coco(tmp_path / 'data', num_images=8,
                                image_size=SIZE, classes=CLASSES, seed=3)
    config = tmp_path / 'browse_synthetic.py'
    config.write_text(CONFIG.format(repo=REPO, root=paths['root'],
                                    classes=CLASSES, size=SIZE))
    return config, paths


def coloured(image: np.ndarray) -> np.ndarray:
    """Mask of drawn pixels: the synthetic images are grey (equal BGR)."""
    image = image.astype(int)
    return (image.max(axis=2) - image.min(axis=2)) > 40


def test_boxes_are_loaded_right_after_the_image(tool):
    load = dict(type='LoadImageFromFile')
    boxes = dict(type='LoadAnnotations', with_bbox=True)
    resize = dict(type='Resize', scale=(64, 64))
    pack = dict(type='PackDetInputs')
    follow = tool.annotations_follow_image
    # Loaded after the resize (original pixels): moved before it.
    assert follow([load, resize, boxes, pack]) == [load, boxes, resize, pack]
    # Not loaded at all (the evaluators read 'instances'): added.
    assert follow([load, resize, pack]) == [load, boxes, resize, pack]
    assert follow([load, boxes, resize]) == [load, boxes, resize]
    # A wrapper's pipeline (no image loading) is left alone.
    mosaic = [dict(type='YOLOv5Mosaic'), pack]
    assert follow(mosaic) == mosaic


def test_train_split_writes_n_side_by_side_pngs(tool, synthetic, tmp_path):
    config, _ = synthetic
    out = tmp_path / 'train'
    assert tool.main([str(config), '--n', '3', '--out-dir', str(out)]) == 0
    files = sorted(out.glob('*.png'))
    assert [f.name for f in files] == [
        '0000_synthetic_0000.png', '0001_synthetic_0001.png',
        '0002_synthetic_0002.png']
    for path in files:
        drawn = cv2.imread(str(path))
        # Two 64 px panels drawn at 384 px, 8 px apart, under a title band.
        assert drawn.shape == (PANEL + TITLE, 2 * PANEL + 8, 3)
    # The mosaic of four images with boxes shows boxes on the right.
    assert any(coloured(cv2.imread(str(f)))[TITLE:, PANEL + 8:].any()
               for f in files)
    assert not list(out.glob('.*'))  # no temp files left


def test_test_split_boxes_follow_the_letterbox(tool, synthetic, tmp_path):
    config, paths = synthetic
    out = tmp_path / 'test'
    assert tool.main([str(config), '--split', 'test', '--n', '5',
                      '--out-dir', str(out)]) == 0
    data = json.loads(paths['test'].read_text())
    files = sorted(out.glob('*.png'))
    assert len(files) == len(data['images']) == 2  # n is capped
    # LetterBox(64, stride 32, extra 0.5) pads 64 -> 96: 16 px each side.
    after_scale, pad = PANEL / 96, 16
    for path, entry in zip(files, data['images']):
        drawn = cv2.imread(str(path))
        before = coloured(drawn[TITLE:, :PANEL])
        after = coloured(drawn[TITLE:, PANEL + 8:])
        boxes = [a['bbox'] for a in data['annotations']
                 if a['image_id'] == entry['id']]
        assert boxes
        for panel, scale, shift in ((before, PANEL / SIZE, 0),
                                    (after, after_scale, pad)):
            expected = np.zeros_like(panel)
            for x, y, w, h in boxes:
                x1, y1 = int((x + shift) * scale), int((y + shift) * scale)
                x2 = int((x + w + shift) * scale)
                y2 = int((y + h + shift) * scale)
                # The box's left edge is drawn where the box is ...
                assert panel[(y1 + y2) // 2, x1 - 1:x1 + 2].any()
                expected[max(y1 - 4, 0):y2 + 4, max(x1 - 4, 0):x2 + 4] = True
            # ... and nothing coloured is drawn away from the boxes.
            assert not (panel & ~expected).any()


def test_check_exit_code(tool, synthetic, capsys):
    config, paths = synthetic
    assert tool.main([str(config), '--split', 'test', '--check']) == 0
    assert 'no problems found' in capsys.readouterr().out
    data = json.loads(paths['test'].read_text())
    corrupt = Path(paths['images']) / data['images'][0]['file_name']
    corrupt.write_bytes(b'\x89PNG truncated')
    assert tool.main([str(config), '--split', 'test', '--check']) == 1
    out = capsys.readouterr().out
    assert f'{corrupt}: does not decode as an image' in out
    assert '--skip-bad' in out
    # The train split's files are fine.
    assert tool.main([str(config), '--check']) == 0


def test_corrupt_image_is_skipped_with_a_warning(tool, synthetic, tmp_path,
                                                 capsys):
    config, paths = synthetic
    data = json.loads(paths['test'].read_text())
    shutil.copy(__file__, Path(paths['images']) /
                data['images'][1]['file_name'])
    out = tmp_path / 'partial'
    assert tool.main([str(config), '--split', 'test', '--out-dir',
                      str(out)]) == 0
    assert len(list(out.glob('*.png'))) == 1
    assert 'run with --check' in capsys.readouterr().err
