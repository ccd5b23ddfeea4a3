"""analyze_logs.py plots curves of several runs from mmengine scalar logs."""
import json

import pytest

from .utils import PYTHON, run_tool


def write_log(path, scale):
    path.parent.mkdir(parents=True)
    with open(path, 'w') as f:
        for it in range(1, 6):
            f.write(json.dumps({'iter': it * 10, 'loss': scale / it, 'lr': 0.1}) + '\n')
        f.write(json.dumps({'step': 50, 'semseg/mIoU': 40 * scale}) + '\n')


def test_plots_two_runs(tmp_path):
    write_log(tmp_path / 'a' / '20260101' / 'vis_data' / 'scalars.json', 1.0)
    write_log(tmp_path / 'b' / '20260101' / 'vis_data' / 'scalars.json', 0.5)
    out = tmp_path / 'curves.png'
    run_tool([PYTHON, 'tools/analysis_tools/analyze_logs.py', str(tmp_path / 'a'),
              str(tmp_path / 'b'), '--keys', 'loss', 'semseg/mIoU', '--legend', 'base',
              'kdam', '--out', str(out)])
    import cv2
    image = cv2.imread(str(out))
    assert image is not None and image.shape[1] > image.shape[0]  # two panels side by side


def test_missing_key_is_named(tmp_path):
    write_log(tmp_path / 'a' / 'x' / 'vis_data' / 'scalars.json', 1.0)
    with pytest.raises(AssertionError, match="no value of 'depth/rmse'"):
        run_tool([PYTHON, 'tools/analysis_tools/analyze_logs.py', str(tmp_path / 'a'),
                  '--keys', 'depth/rmse', '--out', str(tmp_path / 'o.png')])
