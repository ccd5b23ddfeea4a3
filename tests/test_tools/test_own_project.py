"""docs/examples/own_project, copied outside the checkout and run from there.

As in docs/own_project.md: the working directory is the project folder, its
configs import mmmtl and the project's own module with ``custom_imports``, and
the tools are called by their path in the checkout.
"""
import json
import os
import os.path as osp
import shutil
import subprocess

import pytest

from .utils import PYTHON, REPO_ROOT, free_port

EXAMPLE = osp.join(REPO_ROOT, 'docs', 'examples', 'own_project')
STUDENT = 'configs/fcn_r18_mtl_synthetic_nyud.py'
TEACHER = 'configs/fcn_r18-wide_mtl_teacher_synthetic_nyud.py'
KDAM = 'configs/kdam_fcn_r18_synthetic_nyud.py'
MMSEG_SCOPE = 'configs/mmseg-scope_fcn_r18_mtl_synthetic_nyud.py'


def tool(name: str) -> str:
    return osp.join(REPO_ROOT, 'tools', name)


def run_in(project, args, env_extra=None) -> str:
    """Run ``args`` with the project folder as working directory."""
    env = dict(os.environ)
    # the project's own package (my_project) and mmmtl (pip-installed in CI)
    env['PYTHONPATH'] = os.pathsep.join([str(project), REPO_ROOT, env.get('PYTHONPATH', '')])
    env.setdefault('OMP_NUM_THREADS', '1')
    env.update(env_extra or {})
    proc = subprocess.run([str(a) for a in args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=900)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f'{" ".join(map(str, args))} failed ({proc.returncode}) in '
                             f'{project}:\n{output[-6000:]}')
    return output


def short_run(max_iters: int):
    return [f'train_cfg.max_iters={max_iters}', 'train_cfg.val_interval=1000',
            f'default_hooks.checkpoint.interval={max_iters}', 'default_hooks.logger.interval=1',
            'train_dataloader.batch_size=2']


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp('own_project')
    assert not str(root.resolve()).startswith(REPO_ROOT + os.sep)
    shutil.copytree(EXAMPLE, root, dirs_exist_ok=True)
    run_in(root, [PYTHON, tool('misc/make_synthetic_dataset.py'), '--layout', 'nyud', '--out',
                  'data/synthetic_nyud', '--num-train', '4', '--num-val', '2', '--size', '64',
                  '96'])
    return root


def test_mmseg_parts_train_and_test_from_the_project(project):
    output = run_in(project, [PYTHON, tool('train.py'), STUDENT, '--cfg-options',
                              *short_run(2)])
    work_dir = project / 'work_dirs' / 'fcn_r18_mtl_synthetic_nyud'
    assert (work_dir / 'iter_2.pth').is_file()
    assert "type='ResNetV1c'" in output and "type='FCNHead'" in output
    assert "type='CrossEntropyLoss'" in output and "type='DiceLoss'" in output
    assert "type='BerHuDepthLoss'" in output  # the project's own loss
    train_lines = [line for line in output.splitlines() if 'Iter(train) [2/2]' in line]
    assert train_lines and all(f'loss_{task}:' in train_lines[0]
                               for task in ('semseg', 'depth', 'normal', 'edge'))
    metrics_file = project / 'metrics.json'
    run_in(project, [PYTHON, tool('test.py'), STUDENT, work_dir / 'iter_2.pth',
                     '--metrics-out', metrics_file.name])
    metrics = json.loads(metrics_file.read_text())
    assert 0 <= metrics['semseg/mIoU'] <= 100 and metrics['depth/rmse'] > 0
    assert 'normal/mean' in metrics and 'edge/odsF' in metrics


def test_kdam_pair_with_the_teacher_config_in_the_project(project):
    run_in(project, [PYTHON, tool('train.py'), TEACHER, '--cfg-options', *short_run(1)])
    teacher_ckpt = project / 'work_dirs' / 'fcn_r18-wide_mtl_teacher_synthetic_nyud' / \
        'iter_1.pth'
    assert teacher_ckpt.is_file()
    output = run_in(project, [PYTHON, tool('train.py'), KDAM, '--cfg-options', *short_run(1)])
    assert f'KDAMDistiller: loaded teacher from {teacher_ckpt}' in output
    train_line = next(line for line in output.splitlines() if 'Iter(train) [1/1]' in line)
    assert 'loss_semseg:' in train_line and 'loss_kd_semseg_inter:' in train_line
    assert (project / 'work_dirs' / 'kdam_fcn_r18_synthetic_nyud' / 'iter_1.pth').is_file()


def test_dist_train_from_the_project(project):
    output = run_in(project, ['bash', tool('dist_train.sh'), STUDENT, '2', '--work-dir',
                              'work_dirs/dist', '--cfg-options', *short_run(1)],
                    env_extra=dict(PYTHON=PYTHON, PORT=str(free_port())))
    assert 'Distributed training: True' in output
    assert (project / 'work_dirs' / 'dist' / 'iter_1.pth').is_file()


def test_mmseg_scope_project_trains_and_tests(project):
    """A project keeping default_scope='mmseg' names mmmtl's modules `mmmtl.<Type>`; the
    parts they build (decoder, heads, losses, transforms) resolve in mmmtl's scope."""
    output = run_in(project, [PYTHON, tool('train.py'), MMSEG_SCOPE, '--cfg-options',
                              *short_run(2)])
    assert "default_scope = 'mmseg'" in output
    work_dir = project / 'work_dirs' / 'mmseg-scope_fcn_r18_mtl_synthetic_nyud'
    assert (work_dir / 'iter_2.pth').is_file()
    metrics_file = project / 'mmseg_scope_metrics.json'
    run_in(project, [PYTHON, tool('test.py'), MMSEG_SCOPE, work_dir / 'iter_2.pth',
                     '--metrics-out', metrics_file.name])
    metrics = json.loads(metrics_file.read_text())
    assert 0 <= metrics['semseg/mIoU'] <= 100 and metrics['depth/rmse'] > 0
