"""analyze_logs.py plots curves of several runs from mmengine scalar logs."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'analyze_logs.py')


def load_module():
    spec = importlib.util.spec_from_file_location('analyze_logs', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_log(path, scale):
    """mmengine-style scalars: train lines with iter/step, a val line with step."""
    path.parent.mkdir(parents=True)
    with open(path, 'w') as f:
        for it in range(1, 6):
            f.write(json.dumps({'lr': 0.1, 'loss': scale / it, 'iter': it * 10,
                                'step': it * 10}) + '\n')
        f.write(json.dumps({'semseg/mIoU': 40 * scale, 'step': 50}) + '\n')


def run(args):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_load_curves_reads_train_and_val_lines(tmp_path):
    log = tmp_path / 'run' / '20260101' / 'vis_data' / 'scalars.json'
    write_log(log, 2.0)
    module = load_module()
    assert module.find_scalars(str(tmp_path / 'run')) == str(log)
    curves = module.load_curves(str(log), ['loss', 'semseg/mIoU'])
    assert curves['loss'] == ([10, 20, 30, 40, 50], [2.0, 1.0, 2 / 3, 0.5, 0.4])
    assert curves['semseg/mIoU'] == ([50], [80.0])


def test_plots_two_runs_to_png(tmp_path):
    write_log(tmp_path / 'a' / '20260101' / 'vis_data' / 'scalars.json', 1.0)
    # the second run is given as mmengine's <timestamp>.json file
    timestamp_log = tmp_path / 'b' / '20260102' / 'vis_data' / '20260102.json'
    write_log(timestamp_log, 0.5)
    out = tmp_path / 'figs' / 'curves.png'
    proc = run([str(tmp_path / 'a'), str(timestamp_log), '--keys', 'loss', 'semseg/mIoU',
                '--legend', 'baseline', 'kdam', '--out', str(out)])
    assert proc.returncode == 0, proc.stderr
    image = cv2.imread(str(out))
    assert image is not None and image.shape[1] > 1.5 * image.shape[0]  # two panels


def test_bad_input_is_named(tmp_path):
    write_log(tmp_path / 'a' / 'x' / 'vis_data' / 'scalars.json', 1.0)
    proc = run([str(tmp_path / 'a'), '--keys', 'depth/rmse', '--out', str(tmp_path / 'o.png')])
    assert proc.returncode != 0 and "no value of 'depth/rmse'" in proc.stderr
    proc = run([str(tmp_path / 'a'), '--legend', 'x', 'y', '--out', str(tmp_path / 'o.png')])
    assert proc.returncode != 0 and '1 logs but 2 legend names' in proc.stderr
    bad = tmp_path / 'bad.json'
    bad.write_text('{"iter": 1, "loss": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r'bad.json:2: not JSON'):
        load_module().load_curves(str(bad), ['loss'])
