"""tools/run_demo.py (`make demo`): the table it prints and a tiny end-to-end run."""
import importlib.util
import json
import os.path as osp

import pytest

from .utils import PYTHON, REPO_ROOT, run_tool

MODELS = ('teacher (MT, larger)', 'student baseline (MT)', 'KDAM student (MT)')
KEYS = ('semseg/mIoU', 'depth/rmse', 'normal/mean', 'edge/odsF')


def load_demo():
    spec = importlib.util.spec_from_file_location(
        'run_demo', osp.join(REPO_ROOT, 'tools', 'run_demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def delta_m_percent(metrics, reference):
    """Delta_m from its definition: mean of +-(M - M_ref) / M_ref, lower-is-better negated."""
    signs = {'semseg/mIoU': 1, 'depth/rmse': -1, 'normal/mean': -1, 'edge/odsF': 1}
    return 100 * sum(signs[k] * (metrics[k] - reference[k]) / reference[k]
                     for k in KEYS) / len(KEYS)


def table_rows(table):
    return {line.split('|')[0].strip(): [cell.strip() for cell in line.split('|')[1:]]
            for line in table.splitlines()[2:]}


def test_table_has_every_metric_and_delta_m_against_the_baseline():
    results = {
        'student baseline (MT)': {'semseg/mIoU': 40., 'depth/rmse': 0.5, 'normal/mean': 20.,
                                  'edge/odsF': 70.},
        'KDAM student (MT)': {'semseg/mIoU': 44., 'depth/rmse': 0.55, 'normal/mean': 19.,
                              'edge/odsF': 70.},
    }
    rows = table_rows(load_demo().format_table(results, reference='student baseline (MT)'))
    # columns: mIoU, rmse, mErr, odsF, delta_m
    assert rows['student baseline (MT)'] == ['40.00', '0.5000', '20.00', '70.00', '+0.00']
    expected = delta_m_percent(results['KDAM student (MT)'], results['student baseline (MT)'])
    assert expected == pytest.approx((10 - 10 + 5 + 0) / 4)
    assert rows['KDAM student (MT)'] == ['44.00', '0.5500', '19.00', '70.00',
                                         f'{expected:+.2f}']


@pytest.mark.slow
def test_demo_runs_end_to_end_on_tiny_settings(tmp_path):
    work_dir, data_root = tmp_path / 'demo', tmp_path / 'data'
    output = run_tool([PYTHON, 'tools/run_demo.py', '--work-dir', str(work_dir),
                       '--data-root', str(data_root), '--num-train', '4', '--num-val', '2',
                       '--num-vis', '1', '--max-iters', '2'])
    results = json.loads((work_dir / 'results.json').read_text())
    assert tuple(results) == MODELS
    for name in MODELS:
        assert set(KEYS) <= set(results[name]), name
    assert (data_root / 'gt_sets' / 'val.txt').read_text().split() == ['val_00000',
                                                                      'val_00001']
    summary = (work_dir / 'summary.txt').read_text()
    assert summary in output.replace('\r', '')
    rows = table_rows(summary.split('\n\n')[1])
    baseline = results['student baseline (MT)']
    for name in MODELS:
        assert rows[name][0] == f'{results[name]["semseg/mIoU"]:.2f}'
        assert rows[name][-1] == f'{delta_m_percent(results[name], baseline):+.2f}'
    # the KDAM student is evaluated as a plain student checkpoint
    student_file = work_dir / 'kdam' / 'kdam_student.pth'
    assert student_file.exists()
    assert (work_dir / 'kdam' / 'test' / 'mtl_student_synthetic_nyud.py').exists()
    test_log = next((work_dir / 'kdam' / 'test').glob('*/*.log')).read_text()
    comparison = work_dir / 'comparison.png'
    assert comparison.exists() and 'comparison.png' in summary
    assert f'Load checkpoint from {student_file}' in test_log
    for sub in ('teacher', 'student', 'kdam'):
        pictures = list((work_dir / sub / 'test').glob('*/vis/*.png'))
        assert len(pictures) == 1, sub  # --num-vis 1: every 2nd of the 2 val images
