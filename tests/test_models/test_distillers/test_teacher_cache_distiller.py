"""KDAMDistiller with a teacher cache: no teacher built, the same losses as online,
and a cache of anything else than the run is refused with the difference named."""
import json
import sys
from unittest import mock

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.runner import save_checkpoint
from test_kdam_distiller import PIPELINE, TASKS, distiller_cfg, tiny_segmentor
from tool_loader import load_tool

from mmmtl.models.distillers.teacher_cache import check_cache_dataset
from mmmtl.registry import DATASETS, MODELS

TEACHER = tiny_segmentor(16)


@pytest.fixture(scope='module')
def cache_dir(synthetic_nyud_root, tmp_path_factory):
    """The untrained tiny teacher's outputs on the synthetic training split, at
    full resolution in float32 (so that they equal the online outputs)."""
    root = tmp_path_factory.mktemp('teacher_cache')
    config = root / 'kdam.py'
    config.write_text(
        f'model = {distiller_cfg()!r}\n'
        f'train_dataloader = dict(dataset=dict(type="NYUDv2MTLDataset", '
        f'data_root={str(synthetic_nyud_root)!r}, split="train", tasks={list(TASKS)!r}, '
        'pipeline=[]))\n')
    tool = load_tool('tools/distill/cache_teacher.py')
    argv = ['cache_teacher.py', str(config), '--out', str(root / 'cache'), '--scale', '1',
            '--dtype', 'float32', '--num-workers', '0']
    with mock.patch.object(sys, 'argv', argv):
        tool.main()
    return str(root / 'cache')


def cached_batch(synthetic_nyud_root, cache_dir, split='train'):
    pipeline = PIPELINE[:2] + [dict(type='LoadTeacherOutputs', cache_dir=cache_dir)] + PIPELINE[2:]
    dataset = DATASETS.build(dict(type='NYUDv2MTLDataset', data_root=str(synthetic_nyud_root),
                                  split=split, tasks=list(TASKS), pipeline=pipeline))
    return pseudo_collate([dataset[0], dataset[1]]), dataset


def test_cached_distiller_builds_no_teacher_and_matches_online(synthetic_nyud_root, cache_dir):
    torch.manual_seed(0)  # the seed cache_teacher.py builds an untrained teacher with
    online = MODELS.build(dict(distiller_cfg(), student=tiny_segmentor(8)))
    torch.manual_seed(0)
    teacher = MODELS.build(TEACHER)
    online.teacher.load_state_dict(teacher.state_dict())
    cached = MODELS.build(distiller_cfg(teacher_cache=cache_dir))
    assert cached.teacher is None
    assert 'teacher outputs from the cache' in repr(cached)
    cached.student.load_state_dict(online.student.state_dict())
    batch, _ = cached_batch(synthetic_nyud_root, cache_dir)
    data = cached.data_preprocessor(batch, True)
    online_losses = online.loss(data['inputs'], data['data_samples'])
    cached_losses = cached.loss(data['inputs'], data['data_samples'])
    assert set(cached_losses) == set(online_losses)
    assert any(key.startswith('loss_kd_') for key in cached_losses)
    for key, value in online_losses.items():
        torch.testing.assert_close(cached_losses[key], value, rtol=1e-4, atol=1e-6)
    # the gradient reaches the student through the distillation terms
    sum(v for k, v in cached_losses.items() if k.startswith('loss_kd')).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in cached.student.parameters())
    with pytest.raises(RuntimeError, match='not built'):
        cached.teacher_logits(data['inputs'])


def test_cache_of_another_teacher_is_refused(cache_dir, tmp_path):
    with pytest.raises(ValueError, match='teacher.config_sha256'):
        MODELS.build(distiller_cfg(teacher_cfg=tiny_segmentor(24), teacher_cache=cache_dir))
    ckpt = tmp_path / 'teacher.pth'
    save_checkpoint(dict(state_dict=MODELS.build(TEACHER).state_dict()), str(ckpt))
    with pytest.raises(ValueError, match='teacher.checkpoint_sha256: the cache has None'):
        MODELS.build(distiller_cfg(teacher_ckpt=str(ckpt), teacher_cache=cache_dir))
    with pytest.raises(FileNotFoundError, match='teacher_ckpt'):
        MODELS.build(distiller_cfg(allow_untrained_teacher=False, teacher_cache=cache_dir))


def test_cache_of_other_tasks_or_channels_is_refused(cache_dir):
    student = tiny_segmentor(8)
    student['task_heads']['semseg']['out_channels'] = 20
    with pytest.raises(ValueError, match="'semseg': the cache has 40 channels, the student 20"):
        MODELS.build(distiller_cfg(student=student, teacher_cache=cache_dir))


def test_incomplete_cache_is_refused(cache_dir, tmp_path):
    import shutil
    copy = tmp_path / 'cache'
    shutil.copytree(cache_dir, copy)
    manifest = json.loads((copy / 'manifest.json').read_text())
    manifest['complete'] = False
    (copy / 'manifest.json').write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match='incomplete'):
        MODELS.build(distiller_cfg(teacher_cache=str(copy)))


def test_cache_of_another_split_is_refused(synthetic_nyud_root, cache_dir):
    _, train = cached_batch(synthetic_nyud_root, cache_dir)
    check_cache_dataset(cache_dir, train)
    val = DATASETS.build(dict(type='NYUDv2MTLDataset', data_root=str(synthetic_nyud_root),
                              split='val', tasks=list(TASKS), pipeline=[]))
    with pytest.raises(ValueError, match="dataset.split: the cache has 'train', the run has 'val'"):
        check_cache_dataset(cache_dir, val)
    # and an image of that split is not in the cache: an error naming it
    with pytest.raises(KeyError, match='no image'):
        cached_batch(synthetic_nyud_root, cache_dir, split='val')


def test_batch_without_cached_outputs_names_the_image(synthetic_nyud_root, cache_dir):
    from mmmtl.datasets.transforms import PackMultiTaskInputs  # noqa: F401
    dataset = DATASETS.build(dict(type='NYUDv2MTLDataset', data_root=str(synthetic_nyud_root),
                                  split='train', tasks=list(TASKS), pipeline=PIPELINE))
    cached = MODELS.build(distiller_cfg(teacher_cache=cache_dir))
    data = cached.data_preprocessor(pseudo_collate([dataset[0]]), True)
    with pytest.raises(KeyError, match='needs LoadTeacherOutputs'):
        cached.loss(data['inputs'], data['data_samples'])
