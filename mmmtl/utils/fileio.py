"""Writing a file so that a reader sees either the old or the complete new content."""
import os
import os.path as osp
from typing import Union

TEMP_SUFFIX = '.tmp'  # of the temporary file <path>.<pid>.tmp


def _fsync_dir(directory: str) -> None:
    """Persist a rename in ``directory`` (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Union[str, os.PathLike], data: Union[bytes, str]) -> None:
    """Write ``data`` to ``path`` atomically.

    The data go to a temporary file in the same directory, which is flushed to
    disk (``fsync``) and renamed over ``path`` (``os.replace``, atomic on POSIX
    and Windows). A process killed at any moment leaves ``path`` either as it
    was or complete. A failed write (e.g. no space left on device) removes
    the temporary file, leaves ``path`` unchanged and raises an ``OSError``
    naming ``path``.
    """
    path = os.fspath(path)
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8')
    temp = f'{path}.{os.getpid()}{TEMP_SUFFIX}'
    try:
        with open(temp, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as error:
        if osp.exists(temp):
            os.remove(temp)
        raise OSError(error.errno, f'{error.strerror}: could not write {path!r}; it is '
                      'unchanged (nothing partial is left behind)', path) from error
    _fsync_dir(directory)
