"""mmengine checkpoints: found from a work dir, loaded with weights_only=True;
crafted pickles are refused."""
import os
import pickle
from pathlib import Path

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import csdet  # noqa: F401  (registers the allow-list)
from csdet.utils.checkpoint import find_checkpoint
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


def touch(path: Path, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('fake')
    os.utime(path, (mtime, mtime))
    return path


def test_find_checkpoint_follows_last_checkpoint(tmp_path, capsys):
    work = tmp_path / 'work'
    older = touch(work / 'epoch_1.pth', 1000)
    touch(work / 'epoch_2.pth', 2000)
    (work / 'last_checkpoint').write_text(f'{older}\n')
    # the pointer wins over the newer file; a .pth or the pointer file
    # itself may be given too
    assert find_checkpoint(work) == older
    assert find_checkpoint(work / 'last_checkpoint') == older
    assert find_checkpoint(str(work / 'epoch_2.pth')) == work / 'epoch_2.pth'
    # a moved work dir: the pointer's path is gone, its file name is here
    moved = tmp_path / 'moved'
    work.rename(moved)
    assert find_checkpoint(moved) == moved / 'epoch_1.pth'
    assert resolve_checkpoint(str(moved)) == str(moved / 'epoch_1.pth')
    assert capsys.readouterr().out == ''


def test_find_checkpoint_without_pointer(tmp_path, capsys):
    touch(tmp_path / 'b.pth', 2000)
    touch(tmp_path / 'a.pth', 1000)
    assert find_checkpoint(tmp_path) == tmp_path / 'b.pth'  # the newest
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'gone.pth'))
    assert find_checkpoint(tmp_path) == tmp_path / 'b.pth'
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert find_checkpoint(empty) is None
    assert find_checkpoint(tmp_path / 'absent') is None
    assert capsys.readouterr().out == ''  # no mmengine 'Did not find' line
    with pytest.raises(UserInputError) as caught:
        resolve_checkpoint(str(empty))
    assert str(empty) in str(caught.value)
    assert 'train first with tools/train.py' in str(caught.value)
