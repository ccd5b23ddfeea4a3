"""A full disk while saving leaves the previous checkpoint and last_checkpoint
intact, no truncated file, and an error naming the file."""
import builtins
import errno
import os.path as osp

import pytest
import torch
from toy_training import toy_batches, toy_runner

from mmmtl.utils import is_complete_checkpoint


def fill_disk_while_writing(monkeypatch, victim: str, nth: int) -> None:
    """The ``nth`` opening for writing of a file named ``victim*`` gives a file
    whose write stores half the data, then fails with ENOSPC."""
    real_open = builtins.open
    opened = []

    class FullDisk:
        def __init__(self, handle):
            self.handle = handle

        def write(self, data):
            self.handle.write(data[:len(data) // 2])
            self.handle.flush()
            raise OSError(errno.ENOSPC, 'No space left on device')

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    def open_on_full_disk(file, mode='r', *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if 'w' in mode and osp.basename(str(file)).startswith(victim):
            opened.append(file)
            if len(opened) == nth:
                return FullDisk(handle)
        return handle

    monkeypatch.setattr(builtins, 'open', open_on_full_disk)


# the checkpoint of iteration 3, or the last_checkpoint marker naming it
@pytest.mark.parametrize('victim,nth', [('iter_3.pth', 1), ('last_checkpoint', 3)])
def test_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch, victim, nth):
    runner = toy_runner(tmp_path, toy_batches(4), max_keep_ckpts=1)
    fill_disk_while_writing(monkeypatch, victim, nth)
    with pytest.raises(OSError, match=f'No space left on device: could not write '
                       f"'{tmp_path / victim}'") as error:
        runner.train()
    assert error.value.errno == errno.ENOSPC
    assert error.value.filename == str(tmp_path / victim)
    left = sorted(p.name for pattern in ('iter_*', 'last_checkpoint*')
                  for p in tmp_path.glob(pattern))
    expected = ['iter_2.pth', 'last_checkpoint'] + (['iter_3.pth'] if victim != 'iter_3.pth'
                                                    else [])
    assert left == sorted(expected)  # no truncated or temporary file
    marker = (tmp_path / 'last_checkpoint').read_text()
    assert marker == str(tmp_path / 'iter_2.pth')
    for name in left:
        if name.endswith('.pth'):
            assert is_complete_checkpoint(str(tmp_path / name))
            torch.load(tmp_path / name, weights_only=True)
