"""A truncated teacher checkpoint is an error naming the file."""
import pytest
from mmengine.runner import save_checkpoint
from test_kdam_distiller import distiller_cfg, tiny_segmentor

from mmmtl.registry import MODELS


def test_truncated_teacher_checkpoint_names_the_file(tmp_path):
    ckpt = tmp_path / 'teacher_iter_40000.pth'
    save_checkpoint(dict(state_dict=MODELS.build(tiny_segmentor(16)).state_dict()), str(ckpt))
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=f"Checkpoint '{ckpt}' cannot be read: it is truncated"):
        MODELS.build(distiller_cfg(teacher_ckpt=str(ckpt), allow_untrained_teacher=False))
