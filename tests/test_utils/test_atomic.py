"""csdet.utils.atomic: the target holds the old or the whole new content,
and no temporary file is left behind."""
import json
import os
import pickle

import pytest

from csdet.utils import atomic
from csdet.utils.atomic import (atomic_dump, atomic_path, atomic_write,
                                temporary_sibling)


def test_text_write_replaces_the_file_only_at_the_end(tmp_path):
    target = tmp_path / 'out.txt'
    target.write_text('old')
    with atomic_write(target) as file:
        file.write('new ')
        file.flush()
        assert target.read_text() == 'old'  # readers still see the old file
        file.write('content')
    assert target.read_text() == 'new content'
    assert sorted(os.listdir(tmp_path)) == ['out.txt']


def test_binary_write_and_parent_folder_created(tmp_path):
    target = tmp_path / 'a' / 'b' / 'blob.bin'
    with atomic_write(target, 'wb') as file:
        file.write(b'\x00\xff\x10')
    assert target.read_bytes() == b'\x00\xff\x10'
    assert os.listdir(target.parent) == ['blob.bin']


def test_open_kwargs_reach_open(tmp_path):
    target = tmp_path / 'rows.csv'
    with atomic_write(target, newline='\r\n', encoding='utf-16') as file:
        file.write('ä\n')
    assert target.read_bytes() == 'ä\r\n'.encode('utf-16')


@pytest.mark.parametrize('mode', ['w', 'wb'])
def test_error_in_block_keeps_old_file_and_removes_temporary(tmp_path, mode):
    target = tmp_path / 'out.json'
    target.write_text('old')
    with pytest.raises(RuntimeError, match='disk full'):
        with atomic_write(target, mode) as file:
            file.write('half' if mode == 'w' else b'half')
            raise RuntimeError('disk full')
    assert target.read_text() == 'old'
    assert sorted(os.listdir(tmp_path)) == ['out.json']


def test_error_in_block_creates_no_target(tmp_path):
    with pytest.raises(KeyError):
        with atomic_write(tmp_path / 'new.txt') as file:
            file.write('half')
            raise KeyError('x')
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('mode', ['a', 'r', 'w+', 'x'])
def test_other_modes_are_refused(tmp_path, mode):
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb'"):
        with atomic_write(tmp_path / 'out.txt', mode):
            pass
    assert os.listdir(tmp_path) == []


def test_temporary_is_a_hidden_sibling_with_the_same_suffix(tmp_path):
    target = tmp_path / 'model.onnx'
    first, second = temporary_sibling(target), temporary_sibling(target)
    assert first != second
    assert first.parent == tmp_path
    assert first.name.startswith('.model.') and first.suffix == '.onnx'
    assert f'.{os.getpid()}-' in first.name


def test_atomic_path_for_writers_that_take_a_path(tmp_path):
    target = tmp_path / 'sub' / 'image.png'
    with atomic_path(target) as temporary:
        assert temporary.parent == target.parent
        assert temporary.suffix == '.png'
        temporary.write_bytes(b'png')
        assert not target.exists()
    assert target.read_bytes() == b'png'
    assert os.listdir(target.parent) == ['image.png']


def test_atomic_path_error_and_missing_temporary(tmp_path):
    target = tmp_path / 'image.png'
    target.write_bytes(b'old')
    with pytest.raises(OSError, match='could not write'):
        with atomic_path(target) as temporary:
            temporary.write_bytes(b'ha')
            raise OSError('could not write')
    with pytest.raises(FileNotFoundError):
        with atomic_path(target):
            pass  # the writer wrote nothing
    assert target.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['image.png']


def test_fsync_flushes_the_temporary_before_the_rename(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def record(descriptor):
        synced.append(os.readlink(f'/proc/self/fd/{descriptor}'))
        real_fsync(descriptor)

    monkeypatch.setattr(atomic.os, 'fsync', record)
    target = tmp_path / 'a.txt'
    with atomic_write(target, fsync=True) as file:
        file.write('x')
    with atomic_path(tmp_path / 'b.bin', fsync=True) as temporary:
        temporary.write_bytes(b'y')
    with atomic_write(tmp_path / 'c.txt') as file:
        file.write('z')
    assert len(synced) == 2
    assert all('.tmp' in name for name in synced)
    assert target.read_text() == 'x'


def test_atomic_dump_infers_the_format_from_the_target(tmp_path):
    payload = {'b': [1, 2], 'a': 'x'}
    assert atomic_dump(payload, tmp_path / 'p.json',
                       indent=2) == tmp_path / 'p.json'
    assert (tmp_path / 'p.json').read_text() == json.dumps(payload, indent=2)
    atomic_dump(payload, str(tmp_path / 'p.pkl'))
    assert pickle.loads((tmp_path / 'p.pkl').read_bytes()) == payload
    atomic_dump(payload, tmp_path / 'p.cache', file_format='pkl')
    assert pickle.loads((tmp_path / 'p.cache').read_bytes()) == payload
    assert sorted(os.listdir(tmp_path)) == ['p.cache', 'p.json', 'p.pkl']


def test_atomic_dump_failure_keeps_old_file(tmp_path):
    target = tmp_path / 'p.json'
    target.write_text('{"old": true}')
    with pytest.raises(TypeError):
        atomic_dump({'x': object()}, target)
    assert target.read_text() == '{"old": true}'
    assert os.listdir(tmp_path) == ['p.json']
