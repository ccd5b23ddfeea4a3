"""A synthetic multi-task run through tools/train.py (killed and resumed), then tools/test.py."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import load_checkpoint as load_weights

from mmmtl.registry import DATASETS, MODELS

from .utils import (
    PYTHON,
    REPO_ROOT,
    assert_same_training_state,
    load_checkpoint,
    run_tool,
    synthetic_options,
    write_config,
)

CONFIG = 'configs/synthetic/mtl_student_synthetic_nyud.py'
METRIC_KEYS = ('semseg/mIoU', 'semseg/pixel_acc', 'depth/rmse', 'normal/mean',
               'normal/median', 'edge/odsF')
ITERS, KILL_AT = 4, 2

pytestmark = pytest.mark.slow


def train_options(data_root):
    return synthetic_options(data_root, max_iters=ITERS, checkpoint_interval=KILL_AT)


@pytest.fixture(scope='module')
def trained_student(synthetic_nyud_root, tmp_path_factory):
    """An uninterrupted run of ITERS iterations (checkpoints every KILL_AT)."""
    work_dir = tmp_path_factory.mktemp('train_student')
    run_tool([PYTHON, 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
              '--cfg-options', *train_options(synthetic_nyud_root)])
    return work_dir


def test_killed_run_resumes_to_the_uninterrupted_state(trained_student, synthetic_nyud_root,
                                                        tmp_path):
    """SIGKILL after iteration 2, ``--resume``: bit-identical to never stopping."""
    work_dir = tmp_path / 'killed'
    work_dir.mkdir()
    killing = write_config(tmp_path / 'kill.py', CONFIG,
                           f"custom_hooks = [dict(type='KillAfterIter', iters={KILL_AT})]\n")
    run_tool([PYTHON, 'tools/train.py', killing, '--work-dir', str(work_dir), '--cfg-options',
              *train_options(synthetic_nyud_root)], returncode=-9)
    assert osp.exists(work_dir / f'iter_{KILL_AT}.pth')
    assert not osp.exists(work_dir / f'iter_{ITERS}.pth')

    output = run_tool([PYTHON, 'tools/train.py', CONFIG, '--work-dir', str(work_dir),
                       '--resume', '--cfg-options', *train_options(synthetic_nyud_root)])
    assert f'resumed epoch: 0, iter: {KILL_AT}' in output
    assert f'Iter(train) [{KILL_AT + 1}/{ITERS}]' in output
    assert 'Iter(train) [1/' not in output  # not retrained from the start
    assert_same_training_state(load_checkpoint(work_dir / f'iter_{ITERS}.pth'),
                               load_checkpoint(trained_student / f'iter_{ITERS}.pth'))


def reference_metrics(checkpoint, data_root) -> dict:
    """semseg mIoU / pixel acc and depth RMSE of ``checkpoint`` on the val split,
    computed here: the model run in this process, the metrics in plain numpy."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    cfg.test_dataloader.dataset.data_root = str(data_root)
    model = MODELS.build(cfg.model)
    load_weights(model, str(checkpoint), map_location='cpu')
    model.eval()
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the tool's process (OMP_NUM_THREADS=1)
    try:
        samples = []
        with torch.no_grad():
            for index in range(len(dataset)):
                batch = model.data_preprocessor(pseudo_collate([dataset[index]]), False)
                samples += model.predict(batch['inputs'], batch['data_samples'])
    finally:
        torch.set_num_threads(threads)
    gt = np.concatenate([s.gt_sem_seg.data.numpy().ravel() for s in samples])
    pred = np.concatenate([s.pred_sem_seg.data.numpy().ravel() for s in samples])
    valid = gt != 255
    gt, pred = gt[valid], pred[valid]
    ious = []
    for c in range(40):
        union = np.sum((gt == c) | (pred == c))
        ious.append(np.sum((gt == c) & (pred == c)) / union if union else 0.)
    depth_gt = np.concatenate([s.gt_depth.data.numpy().ravel() for s in samples])
    depth = np.concatenate([s.pred_depth.data.numpy().ravel() for s in samples])
    depth_valid = depth_gt > 0
    return {'semseg/mIoU': 100 * np.mean(ious), 'semseg/pixel_acc': 100 * np.mean(gt == pred),
            'depth/rmse': np.sqrt(np.mean((depth[depth_valid] - depth_gt[depth_valid])**2))}


def test_test_prints_table_writes_metrics_and_pictures(trained_student,
                                                       synthetic_nyud_root, tmp_path):
    checkpoint = trained_student / f'iter_{ITERS}.pth'
    metrics_file = tmp_path / 'metrics.json'
    output = run_tool([
        PYTHON, 'tools/test.py', CONFIG, str(checkpoint),
        '--work-dir', str(tmp_path), '--metrics-out', str(metrics_file), '--show-dir', 'vis',
        '--cfg-options', f'test_dataloader.dataset.data_root={synthetic_nyud_root}'
    ])
    metrics = json.loads(metrics_file.read_text())
    for key in METRIC_KEYS:
        assert key in metrics, key
        assert key in output  # the printed table
    # the numbers are those of this checkpoint on the val split, not just plausible
    for key, value in reference_metrics(checkpoint, synthetic_nyud_root).items():
        assert metrics[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    pictures = glob.glob(str(tmp_path / '*' / 'vis' / '*.png'))
    assert len(pictures) == 4  # one per validation image (4 in the fixture)


def test_format_only_exports_predictions(trained_student, synthetic_nyud_root, tmp_path):
    out_dir = tmp_path / 'preds'
    run_tool([
        PYTHON, 'tools/test.py', CONFIG, str(trained_student / f'iter_{ITERS}.pth'),
        '--work-dir', str(tmp_path), '--format-only', '--out', str(out_dir), '--cfg-options',
        f'test_dataloader.dataset.data_root={synthetic_nyud_root}'
    ])
    val_ids = (synthetic_nyud_root / 'gt_sets' / 'val.txt').read_text().split()
    for task_dir, ext in (('edge', 'png'), ('semseg', 'png'), ('depth', 'npy'),
                          ('normal', 'png')):
        files = sorted(glob.glob(str(out_dir / task_dir / f'*.{ext}')))
        assert [osp.splitext(osp.basename(f))[0] for f in files] == sorted(val_ids), task_dir
