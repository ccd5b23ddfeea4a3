"""tools/test.py reads exactly the checkpoint it is given: a checkpoint that does not
fit is an error in the run's log (not a random model's metrics with exit code 0), a
KDAM checkpoint is read as the student, and a KDAM config tests without its teacher."""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmmtl.registry import MODELS

from .utils import PYTHON, REPO_ROOT, run_tool

STUDENT_CONFIG = 'configs/synthetic/mtl_student_synthetic_nyud.py'
KDAM_CONFIG = 'configs/synthetic/kdam_student_synthetic_nyud.py'

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def student_state():
    """Weights of the synthetic student that no run initialises to (seed 123)."""
    torch.manual_seed(123)
    return MODELS.build(Config.fromfile(osp.join(REPO_ROOT, STUDENT_CONFIG)).model).state_dict()


def save(state, path) -> str:
    torch.save(dict(meta=dict(), state_dict=state), path)
    return str(path)


def run_test_py(config, checkpoint, work_dir, data_root, *options, returncode=0):
    """Run tools/test.py; return (metrics or None, output, text of the run's log)."""
    metrics = work_dir / 'metrics.json'
    output = run_tool([PYTHON, 'tools/test.py', config, checkpoint, '--work-dir', str(work_dir),
                       '--metrics-out', str(metrics), '--cfg-options',
                       f'test_dataloader.dataset.data_root={data_root}', *options],
                      returncode=returncode)
    log = '\n'.join(path.read_text() for path in work_dir.glob('*/*.log'))
    return (json.loads(metrics.read_text()) if metrics.exists() else None), output, log


def test_kdam_checkpoint_tests_as_the_student_with_either_config(student_state, tmp_path,
                                                                  synthetic_nyud_root):
    student = save(student_state, tmp_path / 'student.pth')
    kdam = save({f'student.{key}': value for key, value in student_state.items()},
                tmp_path / 'kdam.pth')
    reference, _, _ = run_test_py(STUDENT_CONFIG, student, tmp_path / 'ref', synthetic_nyud_root)
    as_student, _, _ = run_test_py(STUDENT_CONFIG, kdam, tmp_path / 'student_cfg',
                                 synthetic_nyud_root)
    # no teacher on disk: neither its config nor its checkpoint exists
    as_kdam, output, _ = run_test_py(
        KDAM_CONFIG, kdam, tmp_path / 'kdam_cfg', synthetic_nyud_root,
        f'model.teacher_cfg={tmp_path}/no_teacher.py', f'model.teacher_ckpt={tmp_path}/none')
    assert 'semseg/mIoU' in reference and 'normal/mean' in reference
    assert as_student == reference
    assert as_kdam == reference
    assert 'KDAMDistiller' not in output


def test_checkpoint_without_a_head_fails_and_the_log_names_the_keys(student_state, tmp_path,
                                                                    synthetic_nyud_root):
    missing = sorted(key for key in student_state if '.normal.' in key)
    assert missing
    checkpoint = save({key: value for key, value in student_state.items()
                       if key not in missing}, tmp_path / 'no_normal_head.pth')
    metrics, _, log = run_test_py(STUDENT_CONFIG, checkpoint, tmp_path / 'run',
                                synthetic_nyud_root, returncode=1)
    assert metrics is None
    assert 'does not fit the model' in log and 'missing keys' in log and missing[0] in log
