"""A synthetic multi-task run through tools/train.py, then tools/test.py."""
import glob
import json
import os.path as osp
import shutil

import pytest

from .utils import PYTHON, run_tool, synthetic_options

CONFIG = 'configs/synthetic/mtl_student_synthetic_nyud.py'
METRIC_KEYS = ('semseg/mIoU', 'semseg/pixel_acc', 'depth/rmse', 'normal/mean',
               'normal/median', 'edge/odsF')


@pytest.fixture(scope='module')
def trained_student(synthetic_nyud_root, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('train_student')
    run_tool([PYTHON, 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
              '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=4)])
    return work_dir


def test_train_writes_checkpoint_and_resumes(trained_student, synthetic_nyud_root, tmp_path):
    assert osp.exists(trained_student / 'iter_4.pth')
    # A copy: resuming keeps one checkpoint (max_keep_ckpts=1), the other tests need iter_4.
    work_dir = tmp_path / 'resumed'
    shutil.copytree(trained_student, work_dir)
    output = run_tool([PYTHON, 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
                       '--resume', '--cfg-options',
                       *synthetic_options(synthetic_nyud_root, max_iters=6)])
    assert 'resumed epoch: 0, iter: 4' in output.replace('\n', ' ') or \
        'Load checkpoint from' in output
    assert osp.exists(work_dir / 'iter_6.pth')


def test_test_prints_table_writes_metrics_and_pictures(trained_student,
                                                       synthetic_nyud_root, tmp_path):
    metrics_file = tmp_path / 'metrics.json'
    output = run_tool([
        PYTHON, 'tools/test.py', CONFIG, str(trained_student / 'iter_4.pth'),
        '--work-dir', str(tmp_path), '--metrics-out', str(metrics_file), '--show-dir', 'vis',
        '--cfg-options', f'test_dataloader.dataset.data_root={synthetic_nyud_root}'
    ])
    metrics = json.loads(metrics_file.read_text())
    for key in METRIC_KEYS:
        assert key in metrics, key
        assert key in output  # the printed table
    assert 0 <= metrics['semseg/mIoU'] <= 100
    assert metrics['depth/rmse'] > 0
    pictures = glob.glob(str(tmp_path / '*' / 'vis' / '*.png'))
    assert len(pictures) == 4  # one per validation image (4 in the fixture)


def test_format_only_exports_predictions(trained_student, synthetic_nyud_root, tmp_path):
    out_dir = tmp_path / 'preds'
    run_tool([
        PYTHON, 'tools/test.py', CONFIG, str(trained_student / 'iter_4.pth'), '--work-dir',
        str(tmp_path), '--format-only', '--out', str(out_dir), '--cfg-options',
        f'test_dataloader.dataset.data_root={synthetic_nyud_root}'
    ])
    val_ids = (synthetic_nyud_root / 'gt_sets' / 'val.txt').read_text().split()
    for task_dir, ext in (('edge', 'png'), ('semseg', 'png'), ('depth', 'npy'),
                          ('normal', 'png')):
        files = sorted(glob.glob(str(out_dir / task_dir / f'*.{ext}')))
        assert [osp.splitext(osp.basename(f))[0] for f in files] == sorted(val_ids), task_dir
