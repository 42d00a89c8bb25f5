"""mmengine checkpoints load with weights_only=True; crafted pickles do not."""
import pickle
from pathlib import Path

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import csdet  # noqa: F401  (registers the allow-list)
from csdet.utils.runner_setup import UserInputError, resolve_checkpoint


class ToyDataset(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, index):
        return dict(inputs=torch.full((2, ), float(index)),
                    target=torch.tensor([float(index) * 0.5]))


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)
        self.norm = torch.nn.BatchNorm1d(2)  # buffers with int64 counters

    def forward(self, inputs, target, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        target = torch.stack(target) if isinstance(target, list) else target
        pred = self.linear(self.norm(inputs))
        if mode == 'loss':
            return dict(loss=((pred - target)**2).mean())
        return pred


def make_runner(work_dir: Path, max_epochs: int, resume: bool = False):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(), batch_size=4,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1]),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        resume=resume,
        randomness=dict(seed=0),
    )


def test_mmengine_checkpoint_resumes_with_weights_only(tmp_path):
    make_runner(tmp_path, max_epochs=1).train()
    ckpt_path = tmp_path / 'epoch_1.pth'
    checkpoint = torch.load(ckpt_path, weights_only=True)
    assert {'state_dict', 'optimizer', 'message_hub', 'meta'} <= set(
        checkpoint)
    assert checkpoint['meta']['epoch'] == 1

    resumed = make_runner(tmp_path, max_epochs=2, resume=True)
    resumed.train()
    assert resumed.epoch == 2
    assert (tmp_path / 'epoch_2.pth').is_file()
    assert resolve_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_2.pth')


class _Exploit:
    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker, ))


def test_crafted_pickle_is_still_refused(tmp_path):
    marker = tmp_path / 'code_ran'
    exploit = _Exploit()
    exploit.marker = marker
    bad_file = tmp_path / 'bad.pth'
    torch.save({'state_dict': {}, 'payload': exploit}, bad_file)
    with pytest.raises(pickle.UnpicklingError, match='Unsupported global'):
        torch.load(bad_file)
    assert not marker.exists()


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(UserInputError, match='checkpoint not found'):
        resolve_checkpoint(str(tmp_path / 'nope.pth'))


class _FetchTofile:
    """Pickles as getattr(numpy.ndarray, 'tofile'): allowed to fetch."""

    def __call__(self, *args):  # pickle wants the reduce target callable
        raise AssertionError('never called at pickling time')

    def __reduce__(self):
        import numpy as np
        return (getattr, (np.ndarray, 'tofile'))


class _CallFetched:
    marker: Path

    def __reduce__(self):
        import numpy as np
        return (_FetchTofile(), (np.zeros(1), str(self.marker)))


def test_getattr_fetched_function_cannot_be_called(tmp_path):
    marker = tmp_path / 'written_by_pickle'
    exploit = _CallFetched()
    exploit.marker = marker
    bad_file = tmp_path / 'bad_getattr.pth'
    torch.save({'payload': exploit}, bad_file)
    with pytest.raises(pickle.UnpicklingError, match='unrecognized function'):
        torch.load(bad_file)
    assert not marker.exists()
    # The same file does run code under plain pickle: the test is real.
    torch.load(bad_file, weights_only=False)
    assert marker.exists()
