"""The synthetic multi-task baseline, trained through tools/train.py, must beat
an untrained model of the same config on every task (tools/test.py)."""
import json

import pytest
import torch
from mmengine.config import Config

from mmmtl.registry import MODELS

from .utils import PYTHON, REPO_ROOT, run_tool, synthetic_options

CONFIG = 'configs/synthetic/mtl_student_synthetic_nyud.py'
ITERS = 200
# (metric, higher is better, margin the trained model must clear)
MARGINS = (('semseg/mIoU', True, 2.0), ('depth/rmse', False, 0.1),
           ('normal/mean', False, 5.0), ('edge/odsF', True, 5.0))

pytestmark = pytest.mark.slow


def evaluate(checkpoint, data_root, work_dir):
    metrics_file = work_dir / f'{checkpoint.stem}.json'
    run_tool([PYTHON, 'tools/test.py', CONFIG, str(checkpoint), '--work-dir', str(work_dir),
              '--metrics-out', str(metrics_file), '--cfg-options',
              f'test_dataloader.dataset.data_root={data_root}'])
    return json.loads(metrics_file.read_text())


def test_trained_baseline_beats_untrained_on_every_task(synthetic_nyud_root, tmp_path):
    torch.manual_seed(0)
    untrained = MODELS.build(Config.fromfile(f'{REPO_ROOT}/{CONFIG}').model)
    untrained.init_weights()
    untrained_ckpt = tmp_path / 'untrained.pth'
    torch.save(dict(state_dict=untrained.state_dict(), meta=dict()), untrained_ckpt)

    run_tool([PYTHON, 'tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'train'),
              '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=ITERS),
              'default_hooks.logger.interval=50'])
    before = evaluate(untrained_ckpt, synthetic_nyud_root, tmp_path)
    after = evaluate(tmp_path / 'train' / f'iter_{ITERS}.pth', synthetic_nyud_root, tmp_path)
    for key, higher_is_better, margin in MARGINS:
        gain = after[key] - before[key] if higher_is_better else before[key] - after[key]
        assert gain > margin, f'{key}: untrained {before[key]:.4f}, trained {after[key]:.4f}'
