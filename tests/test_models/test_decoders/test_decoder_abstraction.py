"""The decoder abstraction: auxiliary outputs, their losses and distillation, old keys."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.structures import PixelData

from mmmtl.models.decoders import BaseMultiTaskDecoder
from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample

TASKS = ('semseg', 'depth')
CHANNELS = dict(semseg=5, depth=1)
LOSSES = dict(semseg=dict(type='MultiTaskCrossEntropyLoss'), depth=dict(type='DepthL1Loss'))
DISTILL = dict(semseg=dict(type='CSDivergenceLoss', mode='channel'),
               depth=dict(type='CSDivergenceLoss', mode='spatial'))


@MODELS.register_module(force=True)
class _TwoStageDecoder(BaseMultiTaskDecoder):
    """Initial predictions (aux 'initial') refined by a 1x1 conv (final)."""

    def __init__(self, in_channels: int, aux_loss_weights=None) -> None:
        super().__init__(TASKS, CHANNELS, task_losses=copy.deepcopy(LOSSES),
                         aux_loss_weights=aux_loss_weights)
        self.initial = nn.ModuleDict(
            {task: nn.Conv2d(in_channels, c, 1) for task, c in CHANNELS.items()})
        self.refine = nn.ModuleDict({task: nn.Conv2d(c, c, 1) for task, c in CHANNELS.items()})

    def forward_with_aux(self, feats):
        initial = {task: conv(feats[0]) for task, conv in self.initial.items()}
        final = {task: self.refine[task](logits) for task, logits in initial.items()}
        return final, dict(initial=initial)


def segmentor(decoder=None, task_heads=None, width=8) -> dict:
    cfg = dict(
        type='MultiTaskEncoderDecoder',
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=width, base_channels=width,
                      num_stages=2, strides=(1, 2), dilations=(1, 1), out_indices=(0, 1)),
        neck=dict(type='MultiScaleConcatNeck', in_channels=[width, 2 * width]))
    if decoder is not None:
        cfg['decoder'] = decoder
    else:
        cfg['task_heads'] = task_heads
    return cfg


def samples(num=2, size=(16, 16)):
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(num):
        sample = MultiTaskDataSample(metainfo=dict(img_shape=size, ori_shape=size))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, *size), generator=gen))
        sample.gt_depth = PixelData(data=torch.rand(1, *size, generator=gen) + 0.5)
        out.append(sample)
    return out


def test_aux_outputs_get_weighted_task_losses():
    torch.manual_seed(0)
    model = MODELS.build(segmentor(decoder=dict(type='_TwoStageDecoder',
                                                aux_loss_weights=dict(initial=0.5))))
    inputs = torch.randn(2, 3, 16, 16)
    losses = model.loss(inputs, samples())
    assert set(losses) == {'loss_semseg', 'loss_depth', 'loss_semseg_initial',
                           'loss_depth_initial'}
    final, aux = model.forward_tasks_with_aux(inputs)
    targets = samples()
    depth_gt = torch.stack([s.gt_depth.data for s in targets])
    expected = 0.5 * model.decoder.task_loss('depth', aux['initial']['depth'], depth_gt)
    torch.testing.assert_close(losses['loss_depth_initial'], expected)
    # forward_tasks gives the final logits only, at the input size
    logits = model(inputs, mode='tensor')
    assert set(logits) == set(TASKS) and logits['semseg'].shape == (2, 5, 16, 16)
    torch.testing.assert_close(logits['depth'], final['depth'])
    # the in_channels of the decoder came from the neck (8 + 16)
    assert model.decoder.initial['depth'].in_channels == 24


@pytest.mark.parametrize('teacher_has_aux', [True, False])
def test_distill_aux_matches_same_name_or_final(teacher_has_aux):
    torch.manual_seed(0)
    student = segmentor(decoder=dict(type='_TwoStageDecoder'))
    heads = {task: dict(type='ATRCBaselineHead', channels=8, out_channels=CHANNELS[task],
                        loss_decode=LOSSES[task]) for task in TASKS}
    teacher = (segmentor(decoder=dict(type='_TwoStageDecoder'), width=16) if teacher_has_aux
               else segmentor(task_heads=heads, width=16))
    distiller = MODELS.build(dict(type='KDAMDistiller', student=student, teacher_cfg=teacher,
                                  distill_losses=copy.deepcopy(DISTILL), distill_aux=True,
                                  allow_untrained_teacher=True))
    inputs = torch.randn(2, 3, 16, 16)
    losses = distiller.loss(inputs, samples())
    for task in TASKS:
        for term in ('inter', 'intra'):
            assert f'loss_kd_{task}_{term}' in losses
            assert f'loss_kd_{task}_initial_{term}' in losses
    assert 'loss_semseg_initial' in losses
    teacher_final, teacher_aux = distiller.teacher_outputs(inputs, with_aux=True)
    _, student_aux = distiller.student.forward_tasks_with_aux(inputs)
    reference = teacher_aux['initial'] if teacher_has_aux else teacher_final
    expected = distiller.distill_losses['semseg'](student_aux['initial']['semseg'],
                                                  reference['semseg'])['inter']
    torch.testing.assert_close(losses['loss_kd_semseg_initial_inter'], expected)
    # without the option, auxiliary outputs get task losses but no distillation
    distiller.distill_aux = False
    losses = distiller.loss(inputs, samples())
    assert 'loss_semseg_initial' in losses
    assert not any('_initial_' in name for name in losses if name.startswith('loss_kd'))


def test_old_task_heads_checkpoint_keys_load():
    heads = {task: dict(type='ATRCBaselineHead', channels=8, out_channels=CHANNELS[task],
                        loss_decode=LOSSES[task]) for task in TASKS}
    model = MODELS.build(segmentor(task_heads=heads))
    state = model.state_dict()
    assert any(key.startswith('decoder.task_heads.') for key in state)
    old = {key.replace('decoder.task_heads.', 'task_heads.'): value + 1
           for key, value in state.items()}
    fresh = MODELS.build(segmentor(task_heads=heads))
    fresh.load_state_dict(old, strict=True)
    for key, value in fresh.state_dict().items():
        torch.testing.assert_close(value, state[key] + 1)


def test_decoder_and_task_heads_are_exclusive():
    with pytest.raises(ValueError, match='exactly one of `decoder` and `task_heads`'):
        MODELS.build(dict(segmentor(decoder=dict(type='_TwoStageDecoder')),
                          task_heads=dict(depth=dict())))
    with pytest.raises(TypeError, match='not a BaseMultiTaskDecoder'):
        MODELS.build(dict(segmentor(decoder=dict(type='MultiScaleConcatNeck', in_channels=[8]))))


def test_init_weights_reaches_the_heads():
    heads = {task: dict(type='ATRCBaselineHead', channels=8, out_channels=CHANNELS[task],
                        loss_decode=LOSSES[task]) for task in TASKS}
    model = MODELS.build(segmentor(task_heads=heads, width=64))
    with torch.no_grad():
        model.decoder.task_heads.semseg.conv_out.weight.fill_(1.)
    model.init_weights()
    weight = model.decoder.task_heads.semseg.conv_out.weight
    # ATRCBaselineHead's init_cfg: Normal(std=0.01) on conv_out
    assert abs(float(weight.std()) - 0.01) < 0.003 and abs(float(weight.mean())) < 0.005
