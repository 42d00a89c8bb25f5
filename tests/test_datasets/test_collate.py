"""compact_collate + StackedDetDataPreprocessor give the model exactly what
pseudo_collate + DetDataPreprocessor give, also through worker processes."""
import copy

import numpy as np
import pytest
import torch
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.registry import DATASETS
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

from csdet.datasets import compact_collate, tensors_from_arrays
from csdet.models.detectors import StackedDetDataPreprocessor
from csdet.utils.config import load_resolved


@pytest.fixture(scope='module')
def setup(repo_root, synthetic_set):
    """The YOLOv5 training set on the synthetic split, and the config's
    data preprocessor arguments."""
    cfg = load_resolved(
        str(repo_root / 'configs' / 'yolov5_neu_quick.py'),
        dict(data_root=str(synthetic_set['root']) + '/', img_size=96))
    init_default_scope('mmdet')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    kwargs = dict(cfg.model.data_preprocessor)
    kwargs.pop('type')
    return dataset, kwargs


def samples(dataset, count=4):
    torch.manual_seed(0)  # the mosaic draws its partners at random
    np.random.seed(0)
    return [dataset[index] for index in range(count)]


def assert_same_model_input(ours, theirs):
    assert torch.equal(ours['inputs'], theirs['inputs'])
    for mine, other in zip(ours['data_samples'], theirs['data_samples']):
        assert mine.metainfo == other.metainfo
        for field in ('gt_instances', 'ignored_instances'):
            a, b = mine.get(field), other.get(field)
            # boxes stay HorizontalBoxes, or both become tensors (training)
            assert type(a.bboxes) is type(b.bboxes)
            assert torch.equal(torch.as_tensor(a.bboxes.numpy()),
                               torch.as_tensor(b.bboxes.numpy()))
            assert a.labels.dtype == b.labels.dtype
            assert torch.equal(a.labels, b.labels)


def test_batch_is_one_image_tensor_and_numpy_instance_fields(setup):
    dataset, _ = setup
    batch = compact_collate(samples(dataset))
    assert isinstance(batch['inputs'], torch.Tensor)
    assert batch['inputs'].shape == (4, 3, 96, 96)
    gt = batch['data_samples'][0].gt_instances
    assert isinstance(gt.bboxes, HorizontalBoxes)
    assert isinstance(gt.bboxes.tensor, np.ndarray)
    assert isinstance(gt.labels, np.ndarray)
    tensors_from_arrays(batch['data_samples'])
    assert isinstance(gt.bboxes.tensor, torch.Tensor)
    assert isinstance(gt.labels, torch.Tensor)


@pytest.mark.parametrize('training', [True, False])
def test_model_input_equals_pseudo_collate_path(setup, training):
    dataset, kwargs = setup
    data = samples(dataset)
    theirs = DetDataPreprocessor(**kwargs)(
        pseudo_collate(copy.deepcopy(data)), training)
    ours = StackedDetDataPreprocessor(**kwargs)(compact_collate(data),
                                                training)
    assert_same_model_input(ours, theirs)


def test_images_of_different_shapes_stay_a_list(setup):
    dataset, kwargs = setup
    data = samples(dataset, 2)
    data[1]['inputs'] = data[1]['inputs'][:, :64, :]
    data[1]['data_samples'].set_metainfo(dict(img_shape=(64, 96)))
    batch = compact_collate(copy.deepcopy(data))
    assert isinstance(batch['inputs'], list)
    theirs = DetDataPreprocessor(**kwargs)(pseudo_collate(data), True)
    ours = StackedDetDataPreprocessor(**kwargs)(batch, True)
    assert_same_model_input(ours, theirs)


def test_same_batches_through_worker_processes(setup):
    dataset, kwargs = setup
    preprocess = StackedDetDataPreprocessor(**kwargs)

    def batches(collate, workers):
        loader = DataLoader(dataset, batch_size=3, num_workers=workers,
                            collate_fn=collate, shuffle=False,
                            generator=torch.Generator().manual_seed(0),
                            worker_init_fn=np.random.seed)
        return [preprocess(batch, True) for batch in loader]

    ours = batches(compact_collate, 1)
    theirs = batches(pseudo_collate, 1)
    assert len(ours) == len(theirs) == 2
    for mine, other in zip(ours, theirs):
        assert_same_model_input(mine, other)
