"""KDAM end to end through the tools, as docs/train_test.md and the demo use them:
tools/train.py on the synthetic KDAM config (a teacher trained by tools/train.py),
a killed run resumed with --resume, 2 processes with tools/dist_train.sh,
tools/model_converters/extract_student.py and tools/test.py."""
import json
import os.path as osp

import pytest
from mmengine.config import Config

from .utils import (
    DDP_COMPARISON_BODY,
    GROUP_NORM,
    PYTHON,
    REPO_ROOT,
    assert_close_to_one_process,
    assert_identical,
    assert_ranks_identical,
    assert_same_training_state,
    copy_data_root,
    equal_valid_pixel_ids,
    free_port,
    last_checkpoint,
    load_checkpoint,
    run_tool,
    synthetic_options,
    write_config,
)

KDAM_CONFIG = 'configs/synthetic/kdam_student_synthetic_nyud.py'
TEACHER_CONFIG = 'configs/synthetic/mtl_teacher_synthetic_nyud.py'
STUDENT_CONFIG = 'configs/synthetic/mtl_student_synthetic_nyud.py'
ITERS, KILL_AT = 4, 2
KD_TERMS = ('loss_kd_semseg_inter', 'loss_kd_semseg_intra', 'loss_kd_depth_inter',
            'loss_kd_normal_inter', 'loss_kd_edge_inter')

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def teacher_dir(synthetic_nyud_root, tmp_path_factory):
    """The teacher's work dir (its last_checkpoint names the trained teacher)."""
    work_dir = tmp_path_factory.mktemp('kdam_teacher')
    run_tool([PYTHON, 'tools/train.py', TEACHER_CONFIG, '--work-dir', str(work_dir),
              '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=2,
                                                  validate=False)])
    return work_dir


def kdam_options(data_root, teacher_dir, **kwargs):
    options = dict(max_iters=ITERS, checkpoint_interval=KILL_AT)
    options.update(kwargs)
    return synthetic_options(data_root, **options) + [f'model.teacher_ckpt={teacher_dir}']


@pytest.fixture(scope='module')
def kdam_run(synthetic_nyud_root, teacher_dir, tmp_path_factory):
    """An uninterrupted KDAM run of ITERS iterations, validated at the end."""
    work_dir = tmp_path_factory.mktemp('kdam_student')
    output = run_tool([PYTHON, 'tools/train.py', KDAM_CONFIG, '--work-dir', str(work_dir),
                       '--cfg-options', *kdam_options(synthetic_nyud_root, teacher_dir)])
    return work_dir, output


def test_kdam_trains_the_student_with_the_distillation_terms(kdam_run, teacher_dir):
    work_dir, output = kdam_run
    assert f'KDAMDistiller: loaded teacher from {last_checkpoint(teacher_dir)}' in output
    train_lines = [line for line in output.splitlines() if 'Iter(train)' in line]
    assert len(train_lines) == ITERS
    for term in KD_TERMS + ('loss_semseg', 'loss_edge'):
        assert all(f'{term}: ' in line for line in train_lines), term
    checkpoint = load_checkpoint(work_dir / f'iter_{ITERS}.pth')
    # only the student is trained and saved; the frozen teacher stays out
    assert checkpoint['state_dict']
    assert all(key.startswith('student.') for key in checkpoint['state_dict'])
    teacher = load_checkpoint(last_checkpoint(teacher_dir))['state_dict']
    key = 'backbone.patch_embed.projection.weight'
    widths = [Config.fromfile(osp.join(REPO_ROOT, cfg)).model.backbone.embed_dims
              for cfg in (STUDENT_CONFIG, TEACHER_CONFIG)]
    assert widths[0] < widths[1]
    assert checkpoint['state_dict'][f'student.{key}'].shape[0] == widths[0]
    assert teacher[key].shape[0] == widths[1]


def test_kdam_killed_run_resumes_to_the_uninterrupted_state(kdam_run, synthetic_nyud_root,
                                                             teacher_dir, tmp_path):
    work_dir = tmp_path / 'killed'
    work_dir.mkdir()
    killing = write_config(tmp_path / 'kill.py', KDAM_CONFIG,
                           f"custom_hooks = [dict(type='KillAfterIter', iters={KILL_AT})]\n")
    run_tool([PYTHON, 'tools/train.py', killing, '--work-dir', str(work_dir), '--cfg-options',
              *kdam_options(synthetic_nyud_root, teacher_dir, validate=False)], returncode=-9)
    assert not (work_dir / f'iter_{ITERS}.pth').exists()
    output = run_tool([PYTHON, 'tools/train.py', KDAM_CONFIG, '--work-dir', str(work_dir),
                       '--resume', '--cfg-options',
                       *kdam_options(synthetic_nyud_root, teacher_dir, validate=False)])
    assert f'resumed epoch: 0, iter: {KILL_AT}' in output
    assert 'Iter(train) [1/' not in output
    assert_same_training_state(load_checkpoint(work_dir / f'iter_{ITERS}.pth'),
                               load_checkpoint(kdam_run[0] / f'iter_{ITERS}.pth'))


def validation_metrics(work_dir) -> dict:
    """The metrics the KDAM run logged when it validated after its last iteration."""
    scalars = next(work_dir.glob('*/vis_data/scalars.json'))
    lines = [json.loads(line) for line in scalars.read_text().splitlines()]
    return next(line for line in lines if 'semseg/mIoU' in line)


def test_extracted_student_tests_like_the_distiller_validated(kdam_run, synthetic_nyud_root,
                                                              tmp_path):
    """extract_student.py + tools/test.py with the plain student config give the
    numbers the distiller's validation gave: validation runs the student only."""
    work_dir, _ = kdam_run
    source = work_dir / f'iter_{ITERS}.pth'
    student_file = tmp_path / 'kdam_student.pth'
    run_tool([PYTHON, 'tools/model_converters/extract_student.py', str(source),
              str(student_file)])
    distilled = load_checkpoint(source)
    student = load_checkpoint(student_file)
    assert set(student) == {'meta', 'state_dict'}  # no optimizer state
    assert_identical(student['state_dict'],
                     {key[len('student.'):]: value
                      for key, value in distilled['state_dict'].items()}, 'student')

    metrics_file = tmp_path / 'metrics.json'
    run_tool([PYTHON, 'tools/test.py', STUDENT_CONFIG, str(student_file), '--work-dir',
              str(tmp_path), '--metrics-out', str(metrics_file), '--cfg-options',
              f'test_dataloader.dataset.data_root={synthetic_nyud_root}'])
    tested = json.loads(metrics_file.read_text())
    validated = validation_metrics(work_dir)
    assert 'edge/odsF' in tested and 'depth/rmse' in tested
    for key, value in tested.items():
        assert validated[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


@pytest.mark.parametrize('config', [KDAM_CONFIG, STUDENT_CONFIG])
def test_kdam_checkpoint_tests_like_the_distiller_validated(config, kdam_run,
                                                            synthetic_nyud_root, tmp_path):
    """The run's own checkpoint with the KDAM config (the teacher not on disk) or
    with the student config: the validation's numbers, no conversion needed."""
    work_dir, _ = kdam_run
    metrics_file = tmp_path / 'metrics.json'
    run_tool([PYTHON, 'tools/test.py', config, str(work_dir / f'iter_{ITERS}.pth'),
              '--work-dir', str(tmp_path), '--metrics-out', str(metrics_file), '--cfg-options',
              f'test_dataloader.dataset.data_root={synthetic_nyud_root}',
              *([f'model.teacher_ckpt={tmp_path}/no_teacher'] if config == KDAM_CONFIG else [])])
    tested = json.loads(metrics_file.read_text())
    validated = validation_metrics(work_dir)
    assert 'edge/odsF' in tested and 'normal/mean' in tested
    for key, value in tested.items():
        assert validated[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


@pytest.fixture(scope='module')
def kdam_ddp_and_single(synthetic_nyud_root, teacher_dir, tmp_path_factory):
    """A 2-process KDAM run (1 image per rank) and a 1-process run (2 images):
    the same global batches, on images with equally many valid pixels."""
    tmp_path = tmp_path_factory.mktemp('kdam_ddp')
    data_root = copy_data_root(synthetic_nyud_root, tmp_path / 'data',
                               equal_valid_pixel_ids(synthetic_nyud_root))
    config = write_config(tmp_path / 'ddp.py', KDAM_CONFIG, DDP_COMPARISON_BODY +
                          f'model = dict(student=dict(shared_head_cfg=dict('
                          f'norm_cfg={GROUP_NORM})))\n')
    ddp_dir, single_dir = tmp_path / 'dist', tmp_path / 'single'
    run_tool(['bash', 'tools/dist_train.sh', config, '2', '--work-dir', str(ddp_dir),
              '--cfg-options', *kdam_options(data_root, teacher_dir, max_iters=3,
                                             batch_size=1, validate=False)],
             env_extra=dict(PYTHON=PYTHON, PORT=str(free_port())))
    run_tool([PYTHON, 'tools/train.py', config, '--work-dir', str(single_dir), '--cfg-options',
              *kdam_options(data_root, teacher_dir, max_iters=3, batch_size=2,
                            validate=False)])
    return ddp_dir, single_dir


def test_kdam_dist_train_ranks_hold_identical_states(kdam_ddp_and_single):
    assert_ranks_identical(kdam_ddp_and_single[0])


def test_kdam_dist_train_two_processes_match_one_process(kdam_ddp_and_single):
    assert_close_to_one_process(*kdam_ddp_and_single)
