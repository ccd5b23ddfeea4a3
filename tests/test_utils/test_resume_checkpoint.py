"""--resume finds a complete checkpoint whatever state last_checkpoint is in;
unreadable checkpoints are errors naming the file."""
import pytest
import torch

from mmmtl.utils import find_resumable_checkpoint, is_complete_checkpoint, read_checkpoint


def write_checkpoints(work_dir, iters, truncated=()):
    for it in iters:
        path = work_dir / f'iter_{it}.pth'
        torch.save(dict(state_dict=dict(w=torch.full((64, ), float(it)))), path)
        if it in truncated:
            data = path.read_bytes()
            path.write_bytes(data[:len(data) - 100])


@pytest.mark.parametrize('marker,problem', [
    ('', 'is empty'),
    ('{work_dir}/iter_8.pth', 'iter_8.pth, which is missing'),
    ('{work_dir}/iter_6.pth', 'iter_6.pth, which is incomplete'),
    (None, 'is missing'),
])
def test_resume_falls_back_to_the_newest_complete_checkpoint(tmp_path, monkeypatch, marker,
                                                             problem):
    warnings = []
    monkeypatch.setattr('mmmtl.utils.checkpoint.print_log',
                        lambda message, **kwargs: warnings.append(message))
    write_checkpoints(tmp_path, [2, 4, 6], truncated=[6])
    (tmp_path / 'best_semseg_mIoU_iter_6.pth').write_bytes(b'')  # never resumed from
    if marker is not None:
        (tmp_path / 'last_checkpoint').write_text(marker.format(work_dir=tmp_path))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_4.pth')
    assert len(warnings) == 1 and problem in warnings[0] and 'iter_4.pth' in warnings[0]


def test_resume_trusts_a_marker_naming_a_complete_checkpoint(tmp_path):
    write_checkpoints(tmp_path, [2, 4])
    (tmp_path / 'last_checkpoint').write_text('iter_2.pth')  # relative: to the work dir
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')


def test_resume_starts_fresh_without_checkpoints(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None
    (tmp_path / 'last_checkpoint').write_text('')
    assert find_resumable_checkpoint(str(tmp_path)) is None


def test_resume_refuses_when_every_checkpoint_is_incomplete(tmp_path):
    write_checkpoints(tmp_path, [2, 4], truncated=[2, 4])
    with pytest.raises(FileNotFoundError, match=r'no checkpoint in .* is complete: .*iter_2.pth'):
        find_resumable_checkpoint(str(tmp_path))


def test_truncated_checkpoint_error_names_the_file(tmp_path):
    write_checkpoints(tmp_path, [2], truncated=[2])
    path = str(tmp_path / 'iter_2.pth')
    assert not is_complete_checkpoint(path)
    with pytest.raises(ValueError, match=f"Checkpoint '{path}' cannot be read: it is truncated"):
        read_checkpoint(path)
