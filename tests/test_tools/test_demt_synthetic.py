"""The small synthetic DeMT through the tools: it learns every task, and it
trains as a KDAM student of the synthetic teacher (tools/train.py, tools/test.py)."""
import json

import pytest

from .utils import (
    PYTHON,
    assert_trained_beats_untrained,
    run_tool,
    save_untrained_checkpoint,
    synthetic_options,
)

DEMT = 'configs/synthetic/demt_student_synthetic_nyud.py'
KDAM_DEMT = 'configs/synthetic/kdam_demt_student_synthetic_nyud.py'
TEACHER = 'configs/synthetic/mtl_teacher_synthetic_nyud.py'
ITERS = 200
METRICS = ('semseg/mIoU', 'depth/rmse', 'normal/mean', 'edge/odsF')


def evaluate(config, checkpoint, data_root, work_dir, name, *options):
    metrics_file = work_dir / f'{name}.json'
    run_tool([PYTHON, 'tools/test.py', config, str(checkpoint), '--work-dir', str(work_dir),
              '--metrics-out', str(metrics_file), '--cfg-options',
              f'test_dataloader.dataset.data_root={data_root}', *options])
    return json.loads(metrics_file.read_text())


@pytest.mark.slow
def test_trained_demt_beats_untrained_on_every_task(synthetic_nyud_root, tmp_path):
    untrained_ckpt = save_untrained_checkpoint(DEMT, tmp_path / 'untrained.pth')

    run_tool([PYTHON, 'tools/train.py', DEMT, '--work-dir', str(tmp_path / 'train'),
              '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=ITERS),
              'default_hooks.logger.interval=50'])
    before = evaluate(DEMT, untrained_ckpt, synthetic_nyud_root, tmp_path, 'untrained')
    after = evaluate(DEMT, tmp_path / 'train' / f'iter_{ITERS}.pth', synthetic_nyud_root,
                     tmp_path, 'trained')
    assert_trained_beats_untrained(before, after)


@pytest.mark.slow
def test_kdam_with_a_demt_student_trains_and_tests(synthetic_nyud_root, tmp_path):
    teacher_dir = tmp_path / 'teacher'
    run_tool([PYTHON, 'tools/train.py', TEACHER, '--work-dir', str(teacher_dir),
              '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=2)])
    kdam_dir = tmp_path / 'kdam'
    output = run_tool([
        PYTHON, 'tools/train.py', KDAM_DEMT, '--work-dir', str(kdam_dir), '--cfg-options',
        *synthetic_options(synthetic_nyud_root, max_iters=4), f'model.teacher_ckpt={teacher_dir}'
    ])
    for task in ('semseg', 'depth', 'normal', 'edge'):  # task and distillation losses logged
        assert f'loss_{task}:' in output and f'loss_kd_{task}_' in output, task
    checkpoint = kdam_dir / 'iter_4.pth'
    distilled = evaluate(KDAM_DEMT, checkpoint, synthetic_nyud_root, tmp_path, 'kdam',
                         f'model.teacher_ckpt={teacher_dir}')

    # validation uses the student only: the extracted student scores the same
    student = tmp_path / 'student.pth'
    run_tool([PYTHON, 'tools/model_converters/extract_student.py', str(checkpoint),
              str(student)])
    alone = evaluate(DEMT, student, synthetic_nyud_root, tmp_path, 'student')
    for key in METRICS:
        assert distilled[key] == pytest.approx(alone[key], rel=1e-6), key
