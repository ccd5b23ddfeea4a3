"""The synthetic multi-task baseline, trained through tools/train.py, must beat
an untrained model of the same config on every task (tools/test.py)."""
import json

import pytest

from .utils import (
    PYTHON,
    assert_trained_beats_untrained,
    run_tool,
    save_untrained_checkpoint,
    synthetic_options,
)

CONFIG = 'configs/synthetic/mtl_student_synthetic_nyud.py'
ITERS = 200

pytestmark = pytest.mark.slow


def evaluate(checkpoint, data_root, work_dir):
    metrics_file = work_dir / f'{checkpoint.stem}.json'
    run_tool([PYTHON, 'tools/test.py', CONFIG, str(checkpoint), '--work-dir', str(work_dir),
              '--metrics-out', str(metrics_file), '--cfg-options',
              f'test_dataloader.dataset.data_root={data_root}'])
    return json.loads(metrics_file.read_text())


def test_trained_baseline_beats_untrained_on_every_task(synthetic_nyud_root, tmp_path):
    untrained_ckpt = save_untrained_checkpoint(CONFIG, tmp_path / 'untrained.pth')

    run_tool([PYTHON, 'tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'train'),
              '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=ITERS),
              'default_hooks.logger.interval=50'])
    before = evaluate(untrained_ckpt, synthetic_nyud_root, tmp_path)
    after = evaluate(tmp_path / 'train' / f'iter_{ITERS}.pth', synthetic_nyud_root, tmp_path)
    assert_trained_beats_untrained(before, after)
