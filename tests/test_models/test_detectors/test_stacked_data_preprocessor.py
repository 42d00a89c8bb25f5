"""StackedDetDataPreprocessor gives DetDataPreprocessor's inputs and
metainfo (the YOLOv5 settings: BGR -> RGB, / 255, pad to 32 with 114/255)."""
import copy

import pytest
import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.structures import DetDataSample
from mmengine.config import Config

from csdet.models.detectors import StackedDetDataPreprocessor


@pytest.fixture(scope='module')
def settings(repo_root):
    cfg = Config.fromfile(
        str(repo_root / 'configs' / '_base_' / 'models' / 'yolov5s.py'))
    kwargs = dict(cfg.model.data_preprocessor)
    kwargs.pop('type')
    return kwargs


def batch(shapes, seed=0):
    generator = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (3, h, w), generator=generator,
                            dtype=torch.uint8) for h, w in shapes]
    samples = [DetDataSample(metainfo=dict(img_shape=(h, w)))
               for h, w in shapes]
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('shapes', [
    [(192, 192)] * 4,             # a training batch
    [(100, 70)] * 3,              # equal, padded to 128 x 96
    [(96, 64), (64, 96), (32, 32)],  # unequal: DetDataPreprocessor's path
    [(64, 64)],
])
@pytest.mark.parametrize('training', [True, False])
def test_same_output_as_det_data_preprocessor(settings, shapes, training):
    data = batch(shapes)
    expected = DetDataPreprocessor(**settings)(copy.deepcopy(data),
                                               training)
    got = StackedDetDataPreprocessor(**settings)(copy.deepcopy(data),
                                                 training)
    assert torch.equal(got['inputs'], expected['inputs'])
    assert got['inputs'].dtype == torch.float32
    for ours, theirs in zip(got['data_samples'], expected['data_samples']):
        assert ours.batch_input_shape == theirs.batch_input_shape
        assert ours.pad_shape == theirs.pad_shape
    if shapes[0] == (100, 70):  # the padding is the grey of 114 / 255
        assert got['inputs'].shape[-2:] == (128, 96)
        assert torch.allclose(got['inputs'][:, :, 100:],
                              torch.tensor(114 / 255))


def test_only_equal_unpadded_batches_take_the_stacked_path(settings):
    preprocessor = StackedDetDataPreprocessor(**settings)
    assert preprocessor._stackable(batch([(192, 192)] * 4)['inputs'])
    for shapes in ([(100, 70)] * 3, [(96, 64), (64, 96)], [(64, 64)]):
        assert not preprocessor._stackable(batch(shapes)['inputs'])
