"""The small ATRC on synthetic data, through tools/train.py and tools/test.py:
it beats its untrained self on every task, and it trains as a KDAM student."""
import glob
import json

import pytest

from .utils import (
    PYTHON,
    TRAINED_MARGINS,
    assert_trained_beats_untrained,
    run_tool,
    save_untrained_checkpoint,
    synthetic_options,
)

CONFIG = 'configs/synthetic/atrc_student_synthetic_nyud.py'
KDAM_CONFIG = 'configs/synthetic/kdam_atrc_student_synthetic_nyud.py'
TEACHER_CONFIG = 'configs/synthetic/mtl_teacher_synthetic_nyud.py'
TASKS = ('semseg', 'depth', 'normal', 'edge')
ITERS = 400


def evaluate(config, checkpoint, data_root, work_dir, extra=()):
    metrics_file = work_dir / f'{checkpoint.stem}_{len(list(work_dir.glob("*.json")))}.json'
    run_tool([PYTHON, 'tools/test.py', config, str(checkpoint), '--work-dir', str(work_dir),
              '--metrics-out', str(metrics_file), '--cfg-options',
              f'test_dataloader.dataset.data_root={data_root}', *extra])
    return json.loads(metrics_file.read_text())


def train_log(work_dir):
    logs = glob.glob(str(work_dir / '*' / '*.log'))
    assert logs, f'no log in {work_dir}'
    return open(logs[0]).read()


@pytest.mark.slow
def test_trained_atrc_beats_untrained_on_every_task(synthetic_nyud_root, tmp_path):
    untrained_ckpt = save_untrained_checkpoint(CONFIG, tmp_path / 'untrained.pth')

    run_tool([PYTHON, 'tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'train'),
              '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=ITERS),
              'default_hooks.logger.interval=50'])
    log = train_log(tmp_path / 'train')
    for task in TASKS:  # final and initial predictions are both supervised and logged
        assert f'loss_{task}:' in log and f'loss_{task}_initial:' in log, task
    before = evaluate(CONFIG, untrained_ckpt, synthetic_nyud_root, tmp_path)
    after = evaluate(CONFIG, tmp_path / 'train' / f'iter_{ITERS}.pth', synthetic_nyud_root,
                     tmp_path)
    assert_trained_beats_untrained(before, after)


@pytest.mark.slow
def test_kdam_with_atrc_student_trains_and_tests(synthetic_nyud_root, tmp_path):
    teacher_dir, kdam_dir = tmp_path / 'teacher', tmp_path / 'kdam'
    run_tool([PYTHON, 'tools/train.py', TEACHER_CONFIG, '--work-dir', str(teacher_dir),
              '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=2)])
    teacher_option = f'model.teacher_ckpt={teacher_dir}'
    run_tool([PYTHON, 'tools/train.py', KDAM_CONFIG, '--work-dir', str(kdam_dir),
              '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=3),
              teacher_option])
    log = train_log(kdam_dir)
    assert 'KDAMDistiller: loaded teacher from' in log
    for task in TASKS:
        assert f'loss_{task}_initial:' in log, task  # the student's own deep supervision
        assert f'loss_kd_{task}_inter:' in log and f'loss_kd_{task}_intra:' in log, task

    checkpoint = kdam_dir / 'iter_3.pth'
    distilled = evaluate(KDAM_CONFIG, checkpoint, synthetic_nyud_root, tmp_path,
                         [teacher_option])
    student_ckpt = tmp_path / 'student.pth'
    run_tool([PYTHON, 'tools/model_converters/extract_student.py', str(checkpoint),
              str(student_ckpt)])
    alone = evaluate(CONFIG, student_ckpt, synthetic_nyud_root, tmp_path)
    for key, _, _ in TRAINED_MARGINS:  # validation runs the student only
        assert distilled[key] == pytest.approx(alone[key], abs=1e-6), key
