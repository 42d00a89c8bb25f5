"""csdet.testing.synthetic: deterministic synthetic defect images."""
import json

import cv2
import numpy as np
import pytest

from csdet.testing.synthetic import (BACKGROUND_RANGE, make_synthetic_coco,
                                     render_synthetic_image)

PAINT_CLASSES = ('dust', 'pit', 'sag', 'scratch')


def _all_bytes(root):
    return {p.relative_to(root): p.read_bytes()
            for p in sorted(root.rglob('*')) if p.is_file()}


def test_synthetic_is_deterministic(tmp_path):
    first = make_synthetic_coco(tmp_path / 'a', num_images=5, seed=3)
    make_synthetic_coco(tmp_path / 'b', num_images=5, seed=3)
    make_synthetic_coco(tmp_path / 'c', num_images=5, seed=4)
    a, b, c = (_all_bytes(tmp_path / n) for n in 'abc')
    assert a == b and len(a) == 5 + 2
    assert a != c
    train = json.loads(first['train'].read_text())
    test = json.loads(first['test'].read_text())
    assert len(train['images']) + len(test['images']) == 5
    assert len(test['images']) >= 1
    # an image does not depend on how many images the set has
    longer = make_synthetic_coco(tmp_path / 'd', num_images=7, seed=3)
    assert (longer['images'] / 'synthetic_0002.png').read_bytes() == (
        first['images'] / 'synthetic_0002.png').read_bytes()


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_synthetic_boxes_are_exact_extents(seed):
    """Each box is the tight pixel extent of its mark; no mark outside."""
    low, high = BACKGROUND_RANGE
    seen_labels = set()
    for index in range(8):
        sample = render_synthetic_image(seed, index, image_size=(80, 112),
                                        max_objects=4)
        height, width = sample.background.shape
        assert sample.image.shape == (height, width, 3) == (80, 112, 3)
        grey = sample.image[..., 0]
        assert (sample.image == grey[..., None]).all()
        assert low <= sample.background.min() and \
            sample.background.max() <= high
        changed = grey != sample.background
        covered = np.zeros_like(changed)
        assert len(sample.bboxes) >= 1
        for x, y, w, h in sample.bboxes.astype(int):
            assert x >= 0 and y >= 0 and w >= 1 and h >= 1
            assert x + w <= width and y + h <= height
            inside = changed[y:y + h, x:x + w]
            # tight: the mark touches all four sides of its box
            assert inside[0].any() and inside[-1].any()
            assert inside[:, 0].any() and inside[:, -1].any()
            covered[y:y + h, x:x + w] = True
        assert not (changed & ~covered).any()
        seen_labels.update(sample.labels.tolist())
    assert seen_labels <= set(range(6))


def test_synthetic_written_files_match_render(tmp_path):
    paths = make_synthetic_coco(tmp_path, num_images=3, image_size=64,
                                seed=9, classes=PAINT_CLASSES)
    train = json.loads(paths['train'].read_text())
    test = json.loads(paths['test'].read_text())
    assert [c['name'] for c in train['categories']] == list(PAINT_CLASSES)
    anns = train['annotations'] + test['annotations']
    for img in train['images'] + test['images']:
        index = img['id'] - 1
        render = render_synthetic_image(9, index, 64, len(PAINT_CLASSES))
        written = cv2.imread(str(paths['images'] / img['file_name']))
        assert np.array_equal(written, render.image)
        boxes = [a['bbox'] for a in anns if a['image_id'] == img['id']]
        labels = [a['category_id'] - 1 for a in anns
                  if a['image_id'] == img['id']]
        assert boxes == render.bboxes.astype(int).tolist()
        assert labels == render.labels.tolist()


