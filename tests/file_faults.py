"""An ``open`` whose chosen write fails halfway (a full disk, a killed process)."""
import builtins
import os
import os.path as osp
from typing import Callable


def open_failing_halfway(victim: str, nth: int, fail: Callable[[], None]) -> Callable:
    """A replacement for ``builtins.open``: the ``nth`` file opened for writing
    whose name starts with ``victim`` (e.g. ``iter_3.pth`` also matches its
    temporary file) stores half the data of its first write, flushed to disk,
    then ``fail()`` is called (raise ``OSError(ENOSPC)``, or SIGKILL the process)."""
    real_open = builtins.open
    opened = []

    class FailingFile:
        def __init__(self, handle):
            self.handle = handle

        def write(self, data):
            self.handle.write(data[:len(data) // 2])
            self.handle.flush()
            os.fsync(self.handle.fileno())
            fail()

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    def failing_open(file, mode='r', *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if 'w' in mode and osp.basename(str(file)).startswith(victim):
            opened.append(file)
            if len(opened) == nth:
                return FailingFile(handle)
        return handle

    return failing_open
