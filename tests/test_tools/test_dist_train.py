"""`tools/dist_train.sh CONFIG 2` trains with 2 CPU processes (gloo, DDP), and the
ranks end where one process training on the same global batch ends."""
import glob
import os.path as osp

import pytest

from .utils import (
    DDP_COMPARISON_BODY,
    GROUP_NORM,
    PYTHON,
    assert_close_to_one_process,
    assert_ranks_identical,
    copy_data_root,
    equal_valid_pixel_ids,
    free_port,
    run_tool,
    synthetic_options,
    write_config,
)

CONFIG = 'configs/synthetic/mtl_student_synthetic_nyud.py'
ITERS = 3


@pytest.mark.slow
def test_dist_train_two_processes_match_one_process(synthetic_nyud_root, tmp_path):
    data_root = copy_data_root(synthetic_nyud_root, tmp_path / 'data',
                               equal_valid_pixel_ids(synthetic_nyud_root))
    config = write_config(tmp_path / 'ddp.py', CONFIG, DDP_COMPARISON_BODY +
                          f'model = dict(shared_head_cfg=dict(norm_cfg={GROUP_NORM}))\n')
    ddp_dir, single_dir = tmp_path / 'dist', tmp_path / 'single'
    # 2 processes x 1 image and 1 process x 2 images: the same global batches
    output = run_tool(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir', str(ddp_dir),
         '--cfg-options', *synthetic_options(data_root, max_iters=ITERS, batch_size=1)],
        env_extra=dict(PYTHON=PYTHON, PORT=str(free_port())))
    run_tool([PYTHON, 'tools/train.py', config, '--work-dir', str(single_dir), '--cfg-options',
              *synthetic_options(data_root, max_iters=ITERS, batch_size=2, validate=False)])

    logs = glob.glob(str(ddp_dir / '*' / '*.log'))
    assert logs, output[-3000:]
    log = open(logs[0]).read()
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # the world size mmengine records
    assert "type='MMDistributedDataParallel'" in log and 'device_ids=None' in log
    assert f'Iter(train) [{ITERS}/{ITERS}]' in log
    assert osp.exists(ddp_dir / f'iter_{ITERS}.pth')
    # validation ran inside the distributed job and logged the task metrics
    assert 'semseg/mIoU' in log and 'edge/odsF' in log
    assert_ranks_identical(ddp_dir)
    assert_close_to_one_process(ddp_dir, single_dir)
