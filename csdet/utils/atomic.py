"""Atomic file writes: write a temporary file in the target's folder, then
rename it onto the target with :func:`os.replace`.

Readers see either the old file or the complete new one, never a half
written file; when the writer raises, the target is left as it was and
the temporary file is removed. The temporary file lies in the same folder
(a rename within one file system is atomic), starts with ``.`` and keeps
the target's suffix, so writers that choose the format from the extension
(``mmengine.dump``, ``cv2.imwrite``, ``figure.savefig``) write the same
bytes as they would to the target.
"""
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator, Optional, Union

import mmengine

PathLike = Union[str, os.PathLike]


def temporary_sibling(path: PathLike) -> Path:
    """A fresh, unused-looking name beside ``path``:
    ``.<stem>.<pid>-<random>.tmp<suffix>``."""
    path = Path(path)
    token = f'{os.getpid()}-{uuid.uuid4().hex[:8]}'
    return path.with_name(f'.{path.stem}.{token}.tmp{path.suffix}')


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def atomic_path(path: PathLike, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path for the caller to write; on normal exit it is
    renamed onto ``path``.

    The parent folder of ``path`` is created. With ``fsync`` the data are
    flushed to disk before the rename.

    Raises:
        FileNotFoundError: the block did not create the temporary file.
        Any exception of the block, after removing the temporary file
        (``path`` is then untouched).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_sibling(path)
    try:
        yield temporary
        if fsync:
            _fsync(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_write(path: PathLike,
                 mode: str = 'w',
                 fsync: bool = False,
                 **open_kwargs: Any) -> Iterator[IO]:
    """Yield an open file (``open(temporary, mode, **open_kwargs)``) whose
    content replaces ``path`` when the block ends without an exception.

    Args:
        path: the target file.
        mode: ``'w'`` (text) or ``'wb'`` (binary).
        fsync: flush the data to disk before the rename.
        open_kwargs: passed to :func:`open` (``encoding``, ``newline``...).

    Raises:
        ValueError: ``mode`` is not ``'w'`` or ``'wb'``.
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f"atomic_write({str(path)!r}): mode must be 'w' or "
                         f"'wb', got {mode!r} (an atomic write replaces the "
                         'whole file)')
    with atomic_path(path) as temporary:
        with open(temporary, mode, **open_kwargs) as file:
            yield file
            if fsync:
                file.flush()
                os.fsync(file.fileno())


def atomic_dump(obj: Any,
                path: PathLike,
                file_format: Optional[str] = None,
                fsync: bool = False,
                **kwargs: Any) -> Path:
    """``mmengine.dump(obj, path, file_format, **kwargs)`` done atomically
    (the format is inferred from the suffix of ``path`` when not given);
    returns ``path``."""
    with atomic_path(path, fsync=fsync) as temporary:
        mmengine.dump(obj, str(temporary), file_format=file_format, **kwargs)
    return Path(path)
