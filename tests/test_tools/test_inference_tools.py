"""demo/image_demo.py, tools/deployment/pytorch2onnx.py and tools/benchmarks/bench_inference.py
on the checkpoint of a real (tiny) KDAM run through tools/train.py."""
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch

from mmmtl.apis import init_model

from .utils import PYTHON, REPO_ROOT, run_tool, synthetic_options

KDAM_CFG = 'configs/synthetic/kdam_student_synthetic_nyud.py'
STUDENT_CFG = 'configs/synthetic/mtl_student_synthetic_nyud.py'
TASKS = ['semseg', 'depth', 'normal', 'edge']


@pytest.fixture(scope='module')
def kdam_checkpoint(synthetic_nyud_root, tmp_path_factory):
    """iter_2.pth of a 2-iteration KDAM run (untrained teacher), as the Runner writes it."""
    work_dir = tmp_path_factory.mktemp('kdam_run')
    run_tool([PYTHON, 'tools/train.py', KDAM_CFG, '--work-dir', str(work_dir),
              '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=2),
              'model.teacher_ckpt=None', 'model.allow_untrained_teacher=True'])
    return str(work_dir / 'iter_2.pth')


def test_init_model_loads_the_student_of_a_runner_checkpoint(kdam_checkpoint):
    """Safe loading of a full Runner checkpoint (meta, message hub, optimizer)."""
    checkpoint = torch.load(kdam_checkpoint, map_location='cpu', weights_only=True)
    assert 'message_hub' in checkpoint and 'optimizer' in checkpoint
    state = checkpoint['state_dict']
    model = init_model(osp.join(REPO_ROOT, KDAM_CFG), kdam_checkpoint)
    assert model.tasks == TASKS
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state['student.' + key], rtol=0, atol=0)
    assert model.dataset_meta['classes'][0] == 'wall'  # saved by the Runner in meta


def test_image_demo_paints_and_writes_task_files(kdam_checkpoint, synthetic_nyud_root,
                                                 tmp_path):
    image = synthetic_nyud_root / 'images' / 'val_00001.png'
    output = run_tool([PYTHON, 'demo/image_demo.py', str(image), KDAM_CFG, kdam_checkpoint,
                       '--out-dir', str(tmp_path), '--device', 'cpu'])
    assert 'semseg, depth, normal, edge' in output
    painted = cv2.imread(str(tmp_path / 'vis' / 'val_00001.png'))
    # the image, then a row per task with its key (legend, colour bars, sphere)
    assert painted.shape[0] == 5 * 240 and painted.shape[1] > 320
    for task, ext in (('semseg', 'png'), ('depth', 'png'), ('depth', 'npy'),
                      ('normal', 'png'), ('edge', 'png')):
        assert (tmp_path / 'pred' / task / f'val_00001.{ext}').is_file(), (task, ext)
    depth = np.load(tmp_path / 'pred' / 'depth' / 'val_00001.npy')
    assert depth.shape == (48, 64) and (depth >= 0).all()


def test_pytorch2onnx_verifies_a_checkpoint(kdam_checkpoint, tmp_path):
    onnx_file = tmp_path / 'student.onnx'
    output = run_tool([PYTHON, 'tools/deployment/pytorch2onnx.py', KDAM_CFG, '--checkpoint',
                       kdam_checkpoint, '--shape', '64', '96', '--out', str(onnx_file),
                       '--verify'])
    assert onnx_file.is_file()
    for task in TASKS:
        assert re.search(rf'{task}\s+max \|onnxruntime - pytorch\| = \S+ \(ok', output), task


def test_bench_inference_prints_one_row_per_config(tmp_path):
    table_file = tmp_path / 'table.md'
    output = run_tool([PYTHON, 'tools/benchmarks/bench_inference.py', STUDENT_CFG, KDAM_CFG,
                       '--shape', '64', '64', '--iters', '2', '--warmup', '1', '--threads', '1',
                       '--out', str(table_file)])
    table = table_file.read_text()
    assert table in output + '\n'
    rows = [line for line in table.splitlines() if line.startswith('| `')]
    assert [row.split('`')[1] for row in rows] == [STUDENT_CFG, KDAM_CFG]
    for row in rows:
        cells = [cell.strip() for cell in row.strip('|').split('|')[1:]]
        values = [float(cell) for cell in cells]
        assert len(values) == 9 and all(v > 0 for v in values[:8])
        assert values[8] < 1e-3  # onnxruntime reproduces PyTorch's logits
    # The KDAM config measures its student: the same network as the student config.
    assert rows[0].split('|')[2:4] == rows[1].split('|')[2:4]
