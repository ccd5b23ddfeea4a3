"""The teacher cache through the tools, as docs/distillation.md uses them:
tools/distill/cache_teacher.py (one process, resumed, 2 processes with
dist_cache_teacher.sh), tools/distill/check_teacher_cache.py, and a cached
KDAM run through tools/train.py and tools/test.py."""
import json
import os
import re
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from .utils import PYTHON, REPO_ROOT, free_port, run_tool, synthetic_options, write_config

CACHED_CONFIG = 'configs/synthetic/kdam_student_synthetic_nyud_cached.py'
TEACHER_CONFIG = 'configs/synthetic/mtl_teacher_synthetic_nyud.py'
CHANNELS = dict(semseg=40, depth=1, normal=3, edge=1)

pytestmark = pytest.mark.slow


def untrained(data_root, cache) -> list:
    """--cfg-options: the synthetic data at ``data_root``, the untrained
    teacher (mechanics only), the cache at ``cache``."""
    return synthetic_options(data_root, max_iters=2) + [
        'model.teacher_ckpt=None', 'model.allow_untrained_teacher=True',
        f'model.teacher_cache={cache}', f'train_dataloader.dataset.pipeline.2.cache_dir={cache}']


def write_cache(data_root, cache, *extra, config=CACHED_CONFIG) -> str:
    return run_tool([PYTHON, 'tools/distill/cache_teacher.py', config, '--num-workers', '0',
                     *extra, '--cfg-options', *untrained(data_root, cache)])


def entries(cache) -> dict:
    folder = cache / 'entries'
    return {name[:-4]: np.load(folder / name) for name in sorted(os.listdir(folder))
            if name.endswith('.npy')}


@pytest.fixture(scope='module')
def cache(synthetic_nyud_root, tmp_path_factory):
    path = tmp_path_factory.mktemp('teacher_cache') / 'cache'
    output = write_cache(synthetic_nyud_root, path)
    return path, output


def test_cache_holds_the_teachers_outputs(cache, synthetic_nyud_root):
    path, output = cache
    assert '6 images cached' in output
    manifest = json.loads((path / 'manifest.json').read_text())
    assert manifest['complete'] and manifest['dtype'] == 'float16' and manifest['scale'] == 0.25
    assert [(o['name'], o['channels']) for o in manifest['outputs']] == list(CHANNELS.items())
    assert manifest['teacher']['checkpoint_sha256'] is None
    assert manifest['dataset']['split'] == 'train'
    assert manifest['dataset']['data_root'] == str(synthetic_nyud_root)
    stored = entries(path)
    assert sorted(stored) == sorted(manifest['dataset']['samples'])
    # independent reference: the teacher built as the tool does, run on the first image
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from mmmtl.registry import DATASETS, MODELS
    torch.manual_seed(0)
    teacher = MODELS.build(Config.fromfile(os.path.join(REPO_ROOT, TEACHER_CONFIG)).model)
    teacher.eval()
    sample_id = sorted(stored)[0]
    dataset = DATASETS.build(dict(type='NYUDv2MTLDataset', data_root=str(synthetic_nyud_root),
                                  split='train', pipeline=[dict(type='LoadImageFromFile'),
                                                           dict(type='PackMultiTaskInputs')]))
    index = [dataset.get_data_info(i)['sample_id'] for i in range(len(dataset))].index(sample_id)
    data = teacher.data_preprocessor(pseudo_collate([dataset[index]]), False)
    with torch.no_grad():
        logits = teacher.forward_tasks(data['inputs'])
    height, width = dataset[index]['inputs'].shape[1:]
    expected = torch.cat([logits[task][:, :, :height, :width] for task in CHANNELS], 1)
    expected = F.interpolate(expected, size=(height // 4, width // 4), mode='bilinear',
                             align_corners=False)[0].permute(1, 2, 0).numpy()
    assert stored[sample_id].dtype == np.float16 and stored[sample_id].shape == expected.shape
    np.testing.assert_allclose(stored[sample_id].astype(np.float32), expected,
                               rtol=2e-3, atol=2e-3)


def test_resume_writes_only_the_missing_images(cache, synthetic_nyud_root, tmp_path):
    path, _ = cache
    copy = tmp_path / 'cache'
    shutil.copytree(path, copy)
    before = entries(copy)
    removed = sorted(before)[:2]
    for sample_id in removed:
        (copy / 'entries' / f'{sample_id}.npy').unlink()
    # a crash's leftover is never read, and does not count as an entry
    (copy / 'entries' / f'{removed[0]}.npy.partial-1').write_bytes(b'half')
    kept = {sid: os.stat(copy / 'entries' / f'{sid}.npy').st_mtime_ns
            for sid in before if sid not in removed}
    output = write_cache(synthetic_nyud_root, copy)
    assert '2 images to write, 4 already cached' in output
    assert {sid: os.stat(copy / 'entries' / f'{sid}.npy').st_mtime_ns for sid in kept} == kept
    after = entries(copy)
    for sample_id, array in before.items():
        np.testing.assert_array_equal(after[sample_id], array)
    # another scale is another cache: refused, not mixed in
    with pytest.raises(AssertionError, match='scale: the cache has 0.25, the run has 0.5'):
        write_cache(synthetic_nyud_root, copy, '--scale', '0.5')


def test_two_processes_write_their_shares(cache, synthetic_nyud_root, tmp_path):
    path, _ = cache
    dist = tmp_path / 'dist'
    output = run_tool(['bash', 'tools/distill/dist_cache_teacher.sh', CACHED_CONFIG, '2',
                       '--num-workers', '0', '--cfg-options',
                       *untrained(synthetic_nyud_root, dist)],
                      env_extra=dict(PYTHON=PYTHON, PORT=str(free_port())))
    assert 'rank 0/2: 3 images to write' in output and 'rank 1/2: 3 images to write' in output
    assert json.loads((dist / 'manifest.json').read_text())['complete']
    single, ranks = entries(path), entries(dist)
    assert sorted(ranks) == sorted(single)
    for sample_id, array in single.items():
        np.testing.assert_allclose(ranks[sample_id].astype(np.float32),
                                   array.astype(np.float32), atol=1e-3)


def test_check_tool_compares_cached_and_online(synthetic_nyud_root, tmp_path):
    """On untransformed images a full-resolution float32 cache is the online
    teacher (CS 0, agreement 1); a flip, to which the network is not
    equivariant, makes them differ."""
    cache = tmp_path / 'cache'
    write_cache(synthetic_nyud_root, cache, '--scale', '1', '--dtype', 'float32')
    pipeline = ("[dict(type='LoadImageFromFile'), dict(type='LoadMultiTaskAnnotations'), "
                f"dict(type='LoadTeacherOutputs', cache_dir={str(cache)!r}), "
                "{flip}dict(type='PackMultiTaskInputs')]")
    for flip in ('', "dict(type='MultiTaskRandomFlip', prob=1.0), "):
        config = write_config(tmp_path / f'check{len(flip)}.py', CACHED_CONFIG,
                              'train_dataloader = dict(dataset=dict(pipeline='
                              f'{pipeline.format(flip=flip)}))\n')
        output = run_tool([PYTHON, 'tools/distill/check_teacher_cache.py', config,
                           '--batches', '2', '--cfg-options',
                           *untrained(synthetic_nyud_root, cache)[:-1]])
        rows = {line.split()[0]: line.split()[1:] for line in output.splitlines()
                if line.split() and line.split()[0] in CHANNELS}
        assert set(rows) == set(CHANNELS), output[-2000:]
        cs = {task: float(row[0]) for task, row in rows.items()}
        agree = float(rows['semseg'][2])
        if not flip:
            assert max(cs.values()) < 1e-4 and agree == 1.0
            assert float(rows['depth'][3]) < 1e-5
        else:
            assert max(cs.values()) > 1e-3 and agree < 1.0


def test_cached_kdam_trains_and_tests(cache, synthetic_nyud_root, tmp_path):
    path, _ = cache
    work_dir = tmp_path / 'run'
    output = run_tool([PYTHON, 'tools/train.py', CACHED_CONFIG, '--work-dir', str(work_dir),
                       '--cfg-options', *untrained(synthetic_nyud_root, path)])
    assert 'loaded teacher' not in output and 'teacher is untrained' not in output
    train_lines = [line for line in output.splitlines() if 'Iter(train)' in line]
    assert len(train_lines) == 2
    for term in ('loss_kd_semseg_inter', 'loss_kd_depth_inter', 'loss_kd_normal_intra',
                 'loss_kd_edge_inter', 'loss_semseg'):
        assert all(re.search(rf'{term}: [0-9.]+', line) for line in train_lines), term
    metrics = tmp_path / 'metrics.json'
    run_tool([PYTHON, 'tools/test.py', CACHED_CONFIG, str(work_dir / 'iter_2.pth'),
              '--work-dir', str(tmp_path / 'test'), '--metrics-out', str(metrics),
              '--cfg-options', *untrained(synthetic_nyud_root, path)])
    assert {'semseg/mIoU', 'depth/rmse', 'normal/mean'} <= set(json.loads(metrics.read_text()))
    # a cache of another split is refused before the first step, naming the split
    with pytest.raises(AssertionError, match="dataset.split: the cache has 'train'"):
        run_tool([PYTHON, 'tools/train.py', CACHED_CONFIG, '--work-dir', str(tmp_path / 'val'),
                  '--cfg-options', *untrained(synthetic_nyud_root, path),
                  'train_dataloader.dataset.split=val'])
