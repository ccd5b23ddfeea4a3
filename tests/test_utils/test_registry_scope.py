"""mmmtl inside a project whose default scope is mmseg (issue 28): the runner builds
``mmmtl.<Type>`` through mmseg's registries, and what those modules build themselves
(data preprocessor, decoder, heads, losses, a dataset's transforms, a distiller's
student and teacher) resolves in mmmtl's scope by the usual, unscoped names."""
import copy

import pytest
import torch
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import MODELS as MMSEG_MODELS

from mmmtl.models.segmentors import MultiTaskEncoderDecoder
from mmmtl.registry import MODELS

HEADS = dict(semseg=(40, 'MultiTaskCrossEntropyLoss'), depth=(1, 'DepthL1Loss'))
SEGMENTOR = dict(
    type='MultiTaskEncoderDecoder',
    data_preprocessor=dict(type='MultiTaskDataPreProcessor', mean=[0., 0., 0.],
                           std=[1., 1., 1.], size_divisor=8),
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8, num_stages=1,
                  strides=(1, ), dilations=(1, ), out_indices=(0, )),
    neck=dict(type='MultiScaleConcatNeck', in_channels=[8]),
    task_heads={task: dict(type='ATRCBaselineHead', in_channels=8, channels=8,
                           out_channels=channels, loss_decode=dict(type=loss))
                for task, (channels, loss) in HEADS.items()})


@pytest.fixture
def mmseg_scope():
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def scoped(cfg: dict) -> dict:
    cfg = copy.deepcopy(cfg)
    cfg['type'] = 'mmmtl.' + cfg['type']
    return cfg


def test_segmentor_parts_resolve_in_mmmtl_scope(mmseg_scope):
    model = MMSEG_MODELS.build(scoped(SEGMENTOR))
    assert isinstance(model, MultiTaskEncoderDecoder)
    assert type(model.data_preprocessor).__name__ == 'MultiTaskDataPreProcessor'
    assert set(model.tasks) == set(HEADS)
    assert DefaultScope.get_current_instance().scope_name == 'mmseg'  # restored
    out = model(torch.rand(1, 3, 16, 16), mode='tensor')
    assert out['semseg'].shape[1] == 40


def test_distiller_builds_student_and_teacher(mmseg_scope):
    distiller = MMSEG_MODELS.build(dict(
        type='mmmtl.KDAMDistiller', student=SEGMENTOR, teacher_cfg=SEGMENTOR,
        distill_losses=dict(semseg=dict(type='CSDivergenceLoss', mode='channel')),
        allow_untrained_teacher=True))
    assert isinstance(distiller.student, MultiTaskEncoderDecoder)
    assert isinstance(distiller.teacher, MultiTaskEncoderDecoder)


def test_dataset_transforms_resolve_in_mmmtl_scope(mmseg_scope, synthetic_nyud_root):
    dataset = MMSEG_DATASETS.build(dict(
        type='mmmtl.NYUDv2MTLDataset', data_root=str(synthetic_nyud_root), split='val',
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadMultiTaskAnnotations'),
                  dict(type='MultiTaskRandomFlip', prob=0.5),
                  dict(type='PackMultiTaskInputs')]))
    assert 'gt_sem_seg' in dataset[0]['data_samples']


def test_a_child_scope_of_mmmtl_is_kept():
    """A project registry below mmmtl's keeps its scope: the project's own modules are
    found inside mmmtl's modules by their unscoped names."""
    from mmengine.registry import Registry

    from mmmtl.models.losses import DepthL1Loss
    child = Registry('model', parent=MODELS, scope='my_mmmtl_child')

    @child.register_module()
    class ChildDepthLoss(DepthL1Loss):
        pass

    cfg = copy.deepcopy(SEGMENTOR)
    cfg['task_heads']['depth']['loss_decode'] = dict(type='ChildDepthLoss')
    with DefaultScope.overwrite_default_scope('my_mmmtl_child'):
        model = child.build(cfg)
    assert isinstance(model.task_heads['depth'].loss_decode.losses[0], ChildDepthLoss)
