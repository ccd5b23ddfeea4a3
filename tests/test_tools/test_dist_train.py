"""`tools/dist_train.sh CONFIG 2` trains with 2 CPU processes (gloo, DDP)."""
import glob
import os.path as osp

from .utils import PYTHON, free_port, run_tool, synthetic_options

CONFIG = 'configs/synthetic/mtl_student_synthetic_nyud.py'


def test_dist_train_two_cpu_processes(synthetic_nyud_root, tmp_path):
    work_dir = tmp_path / 'dist'
    output = run_tool(
        ['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', str(work_dir),
         '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=3)],
        env_extra=dict(PYTHON=PYTHON, PORT=str(free_port())))
    logs = glob.glob(str(work_dir / '*' / '*.log'))
    assert logs, output[-3000:]
    log = open(logs[0]).read()
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # the world size mmengine records
    assert "type='MMDistributedDataParallel'" in log and 'device_ids=None' in log
    assert 'Iter(train) [3/3]' in log
    assert osp.exists(work_dir / 'iter_3.pth')
    # validation ran inside the distributed job and logged the task metrics
    assert 'semseg/mIoU' in log and 'edge/odsF' in log
