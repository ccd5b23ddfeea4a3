"""A full disk while saving leaves the previous checkpoint and last_checkpoint
intact, no truncated file, and an error naming the file."""
import builtins
import errno

import pytest
import torch
from file_faults import open_failing_halfway
from toy_training import toy_batches, toy_runner

from mmmtl.utils import is_complete_checkpoint


def no_space_left() -> None:
    raise OSError(errno.ENOSPC, 'No space left on device')


# the checkpoint of iteration 3, or the last_checkpoint marker naming it
@pytest.mark.parametrize('victim,nth', [('iter_3.pth', 1), ('last_checkpoint', 3)])
def test_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch, victim, nth):
    runner = toy_runner(tmp_path, toy_batches(4), max_keep_ckpts=1)
    monkeypatch.setattr(builtins, 'open', open_failing_halfway(victim, nth, no_space_left))
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
