"""The missing-teacher message suggests the command that fits the teacher's config
(issue 28): the 8-GPU launcher for the paper's SyncBN configs, one process for the
CPU-sized synthetic ones."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmmtl.models.distillers import kdam_distiller
from mmmtl.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def test_synthetic_teacher_is_trained_with_one_process(monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    cfg = Config.fromfile('configs/synthetic/kdam_student_synthetic_nyud.py')
    cfg.model.teacher_ckpt = str(tmp_path / 'iter_600.pth')
    with pytest.raises(FileNotFoundError) as error:
        MODELS.build(cfg.model)
    message = str(error.value)
    assert ('Train it first (python tools/train.py '
            'configs/synthetic/mtl_teacher_synthetic_nyud.py)') in message
    assert 'dist_train.sh' not in message


def test_paper_teacher_is_trained_on_8_gpus(monkeypatch):
    monkeypatch.chdir(REPO)
    assert kdam_distiller._train_command('configs/mtl/swinL_nyud.py') == \
        'bash tools/dist_train.sh configs/mtl/swinL_nyud.py 8'
    assert kdam_distiller._train_command(
        'configs/synthetic/mtl_teacher_synthetic_pascal.py') == \
        'python tools/train.py configs/synthetic/mtl_teacher_synthetic_pascal.py'
