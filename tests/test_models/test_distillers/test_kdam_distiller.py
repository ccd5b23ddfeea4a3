"""KDAMDistiller: frozen teacher, student-only checkpoints, errors, extract_student."""
import copy
import pickle

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner, save_checkpoint
from tool_loader import load_tool

from mmmtl.registry import DATASETS, MODELS

TASKS = ('semseg', 'depth', 'normal', 'edge')
DISTILL_LOSSES = dict(
    semseg=dict(type='CSDivergenceLoss', mode='channel'),
    depth=dict(type='CSDivergenceLoss', mode='spatial'),
    normal=dict(type='CSDivergenceLoss', mode='spatial'),
    edge=dict(type='CSDivergenceLoss', mode='binary'))
PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]


def tiny_segmentor(width: int, tasks=TASKS) -> dict:
    """A real MultiTaskEncoderDecoder, small enough for CPU tests."""
    losses = dict(
        semseg=(40, dict(type='MultiTaskCrossEntropyLoss')),
        depth=(1, dict(type='DepthL1Loss')),
        normal=(3, dict(type='NormalL1Loss', loss_weight=10.)),
        edge=(1, dict(type='BalancedBinaryCrossEntropyLoss', loss_weight=50.)))
    return dict(
        type='MultiTaskEncoderDecoder',
        data_preprocessor=dict(type='MultiTaskDataPreProcessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True, size_divisor=8),
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=width, base_channels=width,
                      num_stages=2, strides=(1, 2), dilations=(1, 1), out_indices=(0, 1)),
        neck=dict(type='MultiScaleConcatNeck', in_channels=[width, 2 * width]),
        task_heads={
            task: dict(type='ATRCBaselineHead', in_channels=3 * width, channels=8,
                       out_channels=losses[task][0], loss_decode=losses[task][1])
            for task in tasks
        })


def distiller_cfg(**kwargs) -> dict:
    cfg = dict(type='KDAMDistiller', student=tiny_segmentor(8), teacher_cfg=tiny_segmentor(16),
               distill_losses=copy.deepcopy(DISTILL_LOSSES), allow_untrained_teacher=True)
    cfg.update(kwargs)
    return cfg


@pytest.fixture(scope='module')
def batch(synthetic_nyud_root):
    dataset = DATASETS.build(dict(type='NYUDv2MTLDataset', data_root=str(synthetic_nyud_root),
                                  split='train', tasks=list(TASKS), pipeline=PIPELINE))
    return pseudo_collate([dataset[0], dataset[1]])


def teacher_snapshot(distiller):
    return {k: v.clone() for k, v in distiller.teacher.state_dict().items()}


def test_teacher_frozen_student_trained(batch):
    torch.manual_seed(0)
    distiller = MODELS.build(distiller_cfg())
    optim_wrapper = build_optim_wrapper(distiller, dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4)))
    optimized = {id(p) for group in optim_wrapper.optimizer.param_groups for p in group['params']}
    assert not optimized & {id(p) for p in distiller.teacher.parameters()}
    assert {id(p) for p in distiller.student.parameters()} <= optimized
    assert all(not p.requires_grad for p in distiller.teacher.parameters())

    teacher_before = teacher_snapshot(distiller)
    student_before = {k: v.clone() for k, v in distiller.student.state_dict().items()}
    distiller.train()
    assert distiller.student.training and not distiller.teacher.training
    assert not any(m.training for m in distiller.teacher.modules())
    for _ in range(3):
        log_vars = distiller.train_step(batch, optim_wrapper)
    for task in TASKS:
        assert f'loss_{task}' in log_vars
        assert f'loss_kd_{task}_inter' in log_vars and f'loss_kd_{task}_intra' in log_vars
    # Bit-identical teacher (parameters and BN running statistics), no gradient.
    for key, value in distiller.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    assert all(p.grad is None for p in distiller.teacher.parameters())
    changed = [k for k, v in distiller.student.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, student_before[k])]
    assert any('backbone' in k for k in changed) and any('task_heads' in k for k in changed)


def test_alpha_beta_and_task_weights_scale_terms(batch):
    torch.manual_seed(0)
    base = MODELS.build(distiller_cfg())
    scaled = MODELS.build(distiller_cfg(alpha=2., beta=3., distill_task_weights=dict(depth=0.5)))
    scaled.student.load_state_dict(base.student.state_dict())
    scaled.teacher.load_state_dict(base.teacher.state_dict())
    base.eval(), scaled.eval()  # same BN statistics in both forward passes
    data = base.data_preprocessor(batch, True)
    with torch.no_grad():
        ref, out = base.loss(**data), scaled.loss(**data)
    assert set(ref) == set(out)
    for key, value in ref.items():
        factor = 2. if not key.startswith('loss_kd') else (1.5 if '_depth_' in key else 3.)
        assert out[key].item() == pytest.approx(factor * value.item(), rel=1e-5), key
    # The CS terms are the loss module applied to the two networks' logits.
    student = base.student.forward_tasks(data['inputs'])
    teacher = base.teacher.forward_tasks(data['inputs'])
    terms = MODELS.build(DISTILL_LOSSES['semseg'])(student['semseg'], teacher['semseg'])
    assert ref['loss_kd_semseg_inter'].item() == pytest.approx(terms['inter'].item(), rel=1e-5)


def test_ignore_invalid_masks_pixels(batch):
    losses = copy.deepcopy(DISTILL_LOSSES)
    losses['semseg']['ignore_invalid'] = True
    torch.manual_seed(0)
    plain = MODELS.build(distiller_cfg())
    masked = MODELS.build(distiller_cfg(distill_losses=losses))
    masked.student.load_state_dict(plain.student.state_dict())
    masked.teacher.load_state_dict(plain.teacher.state_dict())
    data = copy.deepcopy(plain.data_preprocessor(batch, True))
    for sample in data['data_samples']:
        sample.gt_sem_seg.data[:, :16] = 255
    plain.eval(), masked.eval()
    with torch.no_grad():
        ref, out = plain.loss(**data), masked.loss(**data)
        student = plain.student.forward_tasks(data['inputs'])['semseg'][:, :, 16:]
        teacher = plain.teacher.forward_tasks(data['inputs'])['semseg'][:, :, 16:]
    expected = MODELS.build(DISTILL_LOSSES['semseg'])(student, teacher)
    assert out['loss_kd_semseg_intra'].item() == pytest.approx(expected['intra'].item(), rel=1e-3)
    assert out['loss_kd_semseg_intra'].item() != pytest.approx(ref['loss_kd_semseg_intra'].item())
    assert out['loss_kd_depth_inter'].item() == pytest.approx(ref['loss_kd_depth_inter'].item())


def test_predict_and_tensor_use_student_only(batch):
    distiller = MODELS.build(distiller_cfg()).eval()
    data = distiller.data_preprocessor(batch, False)
    calls = []
    distiller.teacher.register_forward_hook(lambda *args: calls.append(1))
    with torch.no_grad():
        tensors = distiller(data['inputs'], mode='tensor')
        expected = distiller.student.forward_tasks(data['inputs'])
        preds = distiller.val_step(batch)
    assert not calls
    assert all(torch.equal(tensors[t], expected[t]) for t in TASKS)
    assert tuple(preds[0].pred_sem_seg.data.shape) == (1, *preds[0].ori_shape[:2])


def test_state_dict_holds_student_only():
    distiller = MODELS.build(distiller_cfg())
    keys = list(distiller.state_dict())
    assert keys and all(k.startswith('student.') for k in keys)
    assert not any('teacher' in k for k in keys)
    assert not any(p is q for p in distiller.parameters() for q in distiller.teacher.parameters())
    other = MODELS.build(distiller_cfg())
    other.load_state_dict(distiller.state_dict(), strict=True)
    for key, value in distiller.student.state_dict().items():
        assert torch.equal(other.student.state_dict()[key], value)


def test_to_moves_and_casts_the_teacher():
    distiller = MODELS.build(distiller_cfg())
    distiller.double()
    assert all(p.dtype == torch.float64 for p in distiller.teacher.parameters())
    distiller.to(torch.float32)
    assert all(p.dtype == torch.float32 for p in distiller.teacher.parameters())
    assert all(not p.requires_grad for p in distiller.teacher.parameters())


def test_teacher_from_config_file_and_checkpoint(tmp_path):
    teacher = MODELS.build(tiny_segmentor(16))
    ckpt = tmp_path / 'teacher.pth'
    save_checkpoint(dict(meta=dict(iter=10), state_dict=teacher.state_dict()), str(ckpt))
    cfg_file = tmp_path / 'teacher_cfg.py'
    cfg_file.write_text(f'model = {tiny_segmentor(16)!r}\n')
    distiller = MODELS.build(distiller_cfg(teacher_cfg=str(cfg_file),
                                           teacher_ckpt=str(ckpt),
                                           allow_untrained_teacher=False))
    for key, value in teacher.state_dict().items():
        assert torch.equal(distiller.teacher.state_dict()[key], value), key
    # A work dir: the checkpoint named in its last_checkpoint file (as mmengine writes it).
    (tmp_path / 'last_checkpoint').write_text(str(ckpt))
    from_dir = MODELS.build(distiller_cfg(teacher_ckpt=str(tmp_path)))
    assert torch.equal(from_dir.teacher.backbone.stem[0].weight, teacher.backbone.stem[0].weight)
    (tmp_path / 'empty_run').mkdir()
    with pytest.raises(FileNotFoundError, match='last_checkpoint'):
        MODELS.build(distiller_cfg(teacher_ckpt=str(tmp_path / 'empty_run')))


def test_teacher_paths_resolve_against_the_working_directory(tmp_path, monkeypatch):
    """teacher_cfg and teacher_ckpt resolve like data_root / load_from: relative
    to the working directory (not to the source checkout), absolute anywhere."""
    teacher = MODELS.build(tiny_segmentor(16))
    (tmp_path / 'configs').mkdir()
    (tmp_path / 'configs' / 'teacher.py').write_text(f'model = {tiny_segmentor(16)!r}\n')
    (tmp_path / 'work_dirs').mkdir()
    save_checkpoint(dict(state_dict=teacher.state_dict()), str(tmp_path / 'work_dirs' / 't.pth'))
    monkeypatch.chdir(tmp_path)
    relative = MODELS.build(distiller_cfg(teacher_cfg='configs/teacher.py',
                                          teacher_ckpt='work_dirs/t.pth',
                                          allow_untrained_teacher=False))
    assert torch.equal(relative.teacher.backbone.stem[0].weight,
                       teacher.backbone.stem[0].weight)
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    absolute = MODELS.build(distiller_cfg(teacher_cfg=str(tmp_path / 'configs' / 'teacher.py'),
                                          teacher_ckpt=str(tmp_path / 'work_dirs' / 't.pth'),
                                          allow_untrained_teacher=False))
    assert torch.equal(absolute.teacher.backbone.stem[0].weight,
                       teacher.backbone.stem[0].weight)
    # From another directory the relative paths are looked up there, and the
    # error names the path tried (a repository's configs/ is not searched).
    with pytest.raises(FileNotFoundError,
                       match=f"teacher_cfg 'configs/teacher.py'.*{elsewhere}/configs/teacher.py"):
        MODELS.build(distiller_cfg(teacher_cfg='configs/teacher.py'))
    with pytest.raises(FileNotFoundError, match=f'looked for {elsewhere}/work_dirs/t.pth'):
        MODELS.build(distiller_cfg(teacher_ckpt='work_dirs/t.pth',
                                   allow_untrained_teacher=False))


def test_teacher_cfg_as_path_config_or_dict(tmp_path):
    """One argument for every form of the teacher's config; same teacher each time."""
    cfg_file = tmp_path / 'teacher.py'
    cfg_file.write_text(f'model = {tiny_segmentor(16)!r}\nfoo = 1\n')
    forms = [str(cfg_file), cfg_file, Config.fromfile(str(cfg_file)),
             Config.fromfile(str(cfg_file)).to_dict(), tiny_segmentor(16)]
    shapes = None
    for form in forms:
        torch.manual_seed(0)
        distiller = MODELS.build(distiller_cfg(teacher_cfg=form))
        current = {k: v.shape for k, v in distiller.teacher.state_dict().items()}
        assert shapes is None or current == shapes
        shapes = current
    with pytest.raises(KeyError, match='neither `type`.*`model`'):
        MODELS.build(distiller_cfg(teacher_cfg=dict(backbone=dict())))
    (tmp_path / 'no_model.py').write_text('foo = 1\n')
    with pytest.raises(KeyError, match='no_model.py.*has no `model`'):
        MODELS.build(distiller_cfg(teacher_cfg=str(tmp_path / 'no_model.py')))


def test_checkpoint_that_does_not_fit_names_keys(tmp_path):
    state = MODELS.build(tiny_segmentor(16)).state_dict()
    state['decoder.task_heads.semseg.conv_extra.weight'] = state.pop(
        'decoder.task_heads.semseg.conv_out.weight')
    ckpt = tmp_path / 'bad_keys.pth'
    save_checkpoint(dict(state_dict=state), str(ckpt))
    with pytest.raises(ValueError) as error:
        MODELS.build(distiller_cfg(teacher_ckpt=str(ckpt), allow_untrained_teacher=False))
    message = str(error.value)
    assert 'decoder.task_heads.semseg.conv_out.weight' in message and 'missing' in message
    assert 'decoder.task_heads.semseg.conv_extra.weight' in message and 'unexpected' in message
    assert str(ckpt) in message
    # A student-sized checkpoint for the wider teacher: shape mismatch, named.
    save_checkpoint(dict(state_dict=MODELS.build(tiny_segmentor(8)).state_dict()),
                    str(tmp_path / 'small.pth'))
    with pytest.raises(ValueError, match='shape mismatch.*backbone'):
        MODELS.build(distiller_cfg(teacher_ckpt=str(tmp_path / 'small.pth')))


class _Payload:  # an arbitrary class: must not be unpickled from a teacher checkpoint
    def __reduce__(self):
        return (print, ('unpickled!', ))


def test_teacher_checkpoint_loaded_with_weights_only(tmp_path):
    ckpt = tmp_path / 'unsafe.pth'
    torch.save(dict(state_dict=MODELS.build(tiny_segmentor(16)).state_dict(),
                    meta=dict(payload=_Payload())), str(ckpt))
    with pytest.raises(pickle.UnpicklingError):
        MODELS.build(distiller_cfg(teacher_ckpt=str(ckpt), allow_untrained_teacher=False))


def test_missing_teacher_checkpoint_is_an_error(tmp_path):
    with pytest.raises(ValueError, match='teacher_ckpt is not set'):
        MODELS.build(distiller_cfg(allow_untrained_teacher=False))
    missing = str(tmp_path / 'iter_40000.pth')
    with pytest.raises(FileNotFoundError, match='iter_40000.pth'):
        MODELS.build(distiller_cfg(teacher_ckpt=missing, allow_untrained_teacher=False))
    MODELS.build(distiller_cfg(teacher_ckpt=missing, allow_untrained_teacher=True))


def test_task_list_mismatch_and_bad_distill_tasks():
    with pytest.raises(ValueError, match=r"share the task list.*only in the student: \['edge'\]"):
        MODELS.build(distiller_cfg(teacher_cfg=tiny_segmentor(16, tasks=TASKS[:3])))
    with pytest.raises(KeyError, match='human_parts'):
        MODELS.build(distiller_cfg(distill_losses=dict(
            human_parts=dict(type='CSDivergenceLoss'))))
    with pytest.raises(KeyError, match='distill_task_weights.*saliency'):
        MODELS.build(distiller_cfg(distill_task_weights=dict(saliency=2.)))
    with pytest.raises(ValueError, match='data_preprocessor.std'):
        teacher = tiny_segmentor(16)
        teacher['data_preprocessor']['std'] = [1., 1., 1.]
        MODELS.build(distiller_cfg(teacher_cfg=teacher))


def test_distill_loss_errors_name_the_task(batch):
    losses = copy.deepcopy(DISTILL_LOSSES)
    losses['depth'] = dict(type='CSDivergenceLoss', mode='channel')  # 1-channel depth head
    distiller = MODELS.build(distiller_cfg(distill_losses=losses))
    data = distiller.data_preprocessor(batch, True)
    with pytest.raises(ValueError, match=r"distill_losses\['depth'\]: mode='channel' on "
                       r"1-channel logits distils nothing.*'binary'.*'spatial'"):
        distiller.loss(**data)
    losses = copy.deepcopy(DISTILL_LOSSES)
    losses['edge'] = dict(type='DISTLoss', mode='binary')
    with pytest.raises(ValueError, match=r"distill_losses\['edge'\].*mode='binary' has no "
                       'inter term'):
        MODELS.build(distiller_cfg(distill_losses=losses))


def test_runner_training_then_extract_student_predicts_identically(
        synthetic_nyud_root, tmp_path):
    """Train 2 iterations with mmengine's Runner, extract the student, load it
    into the plain student model: identical predictions to the distiller."""
    dataloader = dict(
        batch_size=2, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=False),
        dataset=dict(type='NYUDv2MTLDataset', data_root=str(synthetic_nyud_root),
                     split='train', tasks=list(TASKS), pipeline=PIPELINE))
    runner = Runner(
        model=distiller_cfg(), work_dir=str(tmp_path / 'run'), train_dataloader=dataloader,
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9,
                                          weight_decay=5e-4)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2)),
        default_scope='mmmtl', experiment_name='kdam_runner_test')
    teacher_before = teacher_snapshot(runner.model)
    runner.train()
    assert not runner.model.teacher.training
    for key, value in runner.model.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key

    ckpt = tmp_path / 'run' / 'iter_2.pth'
    saved = torch.load(str(ckpt), map_location='cpu')
    assert all(k.startswith('student.') for k in saved['state_dict'])
    assert 'optimizer' in saved

    tool = load_tool('tools/model_converters/extract_student.py')
    out = tmp_path / 'student.pth'
    tool.main([str(ckpt), str(out)])
    extracted = torch.load(str(out), map_location='cpu')
    assert set(extracted) == {'meta', 'state_dict'}
    assert extracted['meta']['iter'] == 2
    tool.main([str(ckpt), str(tmp_path / 'resume.pth'), '--keep-optimizer'])
    assert 'optimizer' in torch.load(str(tmp_path / 'resume.pth'), map_location='cpu')

    from mmengine.runner import load_checkpoint
    student = MODELS.build(tiny_segmentor(8)).eval()
    load_checkpoint(student, str(out), map_location='cpu', strict=True)
    distiller = runner.model.eval()
    val_batch = pseudo_collate([runner.train_dataloader.dataset[i] for i in range(2)])
    with torch.no_grad():
        expected = distiller.val_step(copy.deepcopy(val_batch))
        preds = student.val_step(copy.deepcopy(val_batch))
    for ours, theirs in zip(preds, expected):
        for field in ('pred_sem_seg', 'pred_depth', 'pred_normal', 'pred_edge'):
            assert torch.equal(getattr(ours, field).data, getattr(theirs, field).data), field

    with pytest.raises(KeyError, match='not a KDAMDistiller checkpoint'):
        tool.extract_student(dict(state_dict=student.state_dict()), 'plain.pth')


@pytest.mark.parametrize('teacher_classes, student_classes', [(41, 40), (40, 41)])
def test_channel_mismatch_of_a_distilled_task_is_a_build_error(teacher_classes, student_classes):
    """Teacher semseg 41 vs student 40 (and back) used to drop loss_kd_semseg_* silently."""
    teacher, student = tiny_segmentor(16), tiny_segmentor(8)
    teacher['task_heads']['semseg']['out_channels'] = teacher_classes
    student['task_heads']['semseg']['out_channels'] = student_classes
    with pytest.raises(ValueError, match=rf"distilled task 'semseg': the teacher outputs "
                       rf'{teacher_classes} channels, the student {student_classes}'):
        MODELS.build(distiller_cfg(teacher_cfg=teacher, student=student))


def test_check_teacher_channels_takes_channels_from_any_source():
    """The check reads {task: channels}, e.g. from a cache manifest, not only the model."""
    distiller = MODELS.build(distiller_cfg())
    distiller.check_teacher_channels(dict(semseg=40, depth=1, normal=3, edge=1))
    with pytest.raises(ValueError, match=r"'normal': the teacher outputs 1 channels, the "
                       'student 3'):
        distiller.check_teacher_channels(dict(semseg=40, depth=1, normal=1, edge=1))
    with pytest.raises(KeyError, match="distilled task 'edge'"):
        distiller.check_teacher_channels(dict(semseg=40, depth=1, normal=3))


def test_auxiliary_outputs_in_another_space_are_skipped_and_logged(batch, tmp_path):
    """ATRC's initial depth bins / normal clusters (40 channels) have no counterpart in
    the teacher's 1 / 3 channel outputs: not distilled, and the log says which."""
    from mmengine.logging import MMLogger
    cfg = Config.fromfile('configs/synthetic/kdam_atrc_student_synthetic_nyud.py')
    cfg.model.update(teacher_ckpt=None, allow_untrained_teacher=True, distill_aux=True)
    distiller = MODELS.build(cfg.model)
    log_file = tmp_path / 'run.log'
    MMLogger.get_instance('kdam_aux_skip_test', log_file=str(log_file))
    losses = distiller.loss(**distiller.data_preprocessor(batch, True))
    log = log_file.read_text()
    for task in ('depth', 'normal'):
        assert (f"auxiliary output 'initial' of {task!r} (40 channels) is not distilled"
                in log), log
        assert not any(name.startswith(f'loss_kd_{task}_initial') for name in losses)
    assert 'loss_kd_semseg_initial_inter' in losses  # 40 classes on both sides
    assert "of 'semseg'" not in log
    distiller.loss(**distiller.data_preprocessor(batch, True))
    assert log_file.read_text().count("of 'depth' (40 channels)") == 1  # logged once


def test_student_and_distiller_data_preprocessors_must_agree():
    """model.student.data_preprocessor was replaced by model.data_preprocessor silently."""
    from mmmtl.apis.inference import model_config_for_inference
    other = dict(tiny_segmentor(8)['data_preprocessor'], size_divisor=32)
    match = (r"model.data_preprocessor and model.student.data_preprocessor differ in "
             r"\['size_divisor'\] \(distiller: \[32\], student: \[8\]\)")
    with pytest.raises(ValueError, match=match):
        MODELS.build(distiller_cfg(data_preprocessor=other))
    with pytest.raises(ValueError, match=match):
        model_config_for_inference(Config(dict(model=distiller_cfg(data_preprocessor=other))))
    # the same settings in both places, or in one of them, are fine
    same = copy.deepcopy(tiny_segmentor(8)['data_preprocessor'])
    assert MODELS.build(distiller_cfg(data_preprocessor=same)).data_preprocessor.size_divisor == 8
    student = tiny_segmentor(8)
    del student['data_preprocessor']
    distiller = MODELS.build(distiller_cfg(student=student, data_preprocessor=other))
    assert distiller.data_preprocessor.size_divisor == 32


@pytest.mark.parametrize('kwargs, name', [
    (dict(alpha=-1.), 'alpha'),
    (dict(beta=-0.5), 'beta'),
    (dict(distill_task_weights=dict(depth=-2.)), r"distill_task_weights\['depth'\]"),
])
def test_negative_loss_factors_are_refused(kwargs, name):
    with pytest.raises(ValueError, match=rf'KDAMDistiller: {name} is -[0-9.]+; loss factors '
                       'must be >= 0'):
        MODELS.build(distiller_cfg(**kwargs))
