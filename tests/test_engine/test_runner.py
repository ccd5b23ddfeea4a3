"""MultiTaskRunner: load_from / resume / tools/test.py loading is strict and logged."""
import copy

import pytest
import torch

from mmmtl.engine import MultiTaskRunner
from mmmtl.registry import MODELS

STUDENT = dict(
    type='MultiTaskEncoderDecoder',
    data_preprocessor=dict(type='MultiTaskDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size_divisor=8),
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8, num_stages=2,
                  strides=(1, 2), dilations=(1, 1), out_indices=(0, 1)),
    neck=dict(type='MultiScaleConcatNeck', in_channels=[8, 16]),
    task_heads=dict(
        semseg=dict(type='ATRCBaselineHead', in_channels=24, channels=8, out_channels=40,
                    loss_decode=dict(type='MultiTaskCrossEntropyLoss')),
        normal=dict(type='ATRCBaselineHead', in_channels=24, channels=8, out_channels=3,
                    loss_decode=dict(type='NormalL1Loss'))))
DISTILLER = dict(type='KDAMDistiller', student=STUDENT, teacher_cfg=STUDENT,
                 distill_losses=dict(semseg=dict(type='CSDivergenceLoss', mode='channel')),
                 allow_untrained_teacher=True)


def runner(model_cfg, tmp_path, name):
    return MultiTaskRunner(model=copy.deepcopy(model_cfg), work_dir=str(tmp_path / name),
                           default_scope='mmmtl', experiment_name=name)


def save(state, path):
    torch.save(dict(meta=dict(), state_dict=state), path)
    return str(path)


def trained_student_state():
    torch.manual_seed(1)
    return MODELS.build(copy.deepcopy(STUDENT)).state_dict()


def assert_weights(model, state):
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


def test_checkpoint_missing_a_head_is_an_error_in_the_log(tmp_path):
    """mmengine would load it with strict=False and test a random normals head."""
    state = {key: value for key, value in trained_student_state().items()
             if '.normal.' not in key}
    checkpoint = save(state, tmp_path / 'no_normal_head.pth')
    run = runner(STUDENT, tmp_path, 'missing_head')
    with pytest.raises(ValueError, match=r'missing keys: .*decoder\.task_heads\.normal\.'):
        run.load_checkpoint(checkpoint)
    log = (tmp_path / 'missing_head' / run.timestamp / f'{run.timestamp}.log').read_text()
    assert 'does not fit the model' in log and 'decoder.task_heads.normal.conv_out.weight' in log
    assert "the checkpoint has task heads ['semseg'], the config ['normal', 'semseg']" in log


def test_kdam_checkpoint_is_read_as_the_student(tmp_path):
    state = trained_student_state()
    kdam = save({f'student.{key}': value for key, value in state.items()}, tmp_path / 'kd.pth')
    run = runner(STUDENT, tmp_path, 'student')
    run.load_checkpoint(kdam)
    assert_weights(run.model, state)


def test_load_from_of_a_distiller_fills_its_student(tmp_path):
    """A KDAM run's load_from: a student (or KDAM) checkpoint, strictly, into the student."""
    state = trained_student_state()
    plain = save(state, tmp_path / 'student.pth')
    run = runner(DISTILLER, tmp_path, 'distiller')
    checkpoint = run.load_checkpoint(plain)
    assert checkpoint['state_dict'].keys() == state.keys()
    assert_weights(run.model.student, state)
    wrong = dict(state, extra=torch.zeros(1))
    with pytest.raises(ValueError, match=r"unexpected keys: .*extra"):
        run.load_checkpoint(save(wrong, tmp_path / 'wrong.pth'))


def test_truncated_checkpoint_error_names_the_file(tmp_path):
    path = tmp_path / 'cut.pth'
    save(trained_student_state(), path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match=rf"Checkpoint '{path}' cannot be read"):
        runner(STUDENT, tmp_path, 'cut').load_checkpoint(str(path))
