"""The distiller's side of a teacher-output cache: manifest checks, sampling the batch's outputs."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmmtl.structures import MultiTaskDataSample
from mmmtl.tasks import get_task_spec
from mmmtl.utils.teacher_cache import (
    GRID_KEY,
    OUTPUTS_KEY,
    TeacherCache,
    config_sha256,
    manifest_differences,
    read_manifest,
    sha256_file,
)


def teacher_identity(config_name: str, model_cfg: dict,
                     ckpt: Optional[str]) -> Dict[str, Optional[str]]:
    """``manifest['teacher']`` of a teacher: its config and checkpoint, with hashes.

    Args:
        config_name: How the teacher config was given (its path), for messages.
        model_cfg: The teacher's model config.
        ckpt: The checkpoint file, or None / a missing path for an untrained
            teacher (hash None).
    """
    if hasattr(model_cfg, 'to_dict'):
        model_cfg = model_cfg.to_dict()
    has_ckpt = ckpt is not None and osp.isfile(ckpt)
    return dict(config=config_name, config_sha256=config_sha256(model_cfg),
                checkpoint=ckpt if has_ckpt else None,
                checkpoint_sha256=sha256_file(ckpt) if has_ckpt else None)


def check_cache_manifest(cache_dir: str, teacher: Dict[str, Optional[str]],
                         student_channels: Dict[str, int],
                         distilled: Sequence[str]) -> TeacherCache:
    """Refuse a cache that is not of this run's teacher, tasks and channels.

    Returns the cache; raises a ValueError listing every difference, or
    naming the missing output of a distilled task.
    """
    cache = TeacherCache(cache_dir)
    manifest = cache.manifest
    differences = manifest_differences(manifest, dict(teacher=dict(
        config_sha256=teacher['config_sha256'],
        checkpoint_sha256=teacher['checkpoint_sha256'])))
    if differences:
        differences = [f"{d} (cache: {manifest['teacher']['config']}, "
                       f"{manifest['teacher']['checkpoint']}; run: {teacher['config']}, "
                       f"{teacher['checkpoint']})" for d in differences]
    cached = {output['name']: output['channels'] for output in manifest['outputs']}
    for task in distilled:
        if task not in cached:
            differences.append(f'task {task!r}: distilled by the run, not in the cache '
                               f"(cached outputs {sorted(cached)})")
        elif cached[task] != student_channels.get(task):
            differences.append(f'task {task!r}: the cache has {cached[task]} channels, the '
                               f'student {student_channels.get(task)}')
    if differences:
        raise ValueError(f'KDAMDistiller: the teacher cache {cache_dir!r} is not of this run: '
                         + '; '.join(differences) + '. Write a cache for this run with '
                         'tools/distill/cache_teacher.py.')
    if not manifest.get('complete'):
        raise ValueError(f'KDAMDistiller: the teacher cache {cache_dir!r} is incomplete (its '
                         'writer did not finish); run tools/distill/cache_teacher.py again, '
                         'it resumes.')
    return cache


def check_cache_dataset(cache_dir: str, dataset) -> None:
    """Refuse a cache of another dataset type, root or split than ``dataset``'s."""
    manifest = read_manifest(cache_dir)
    differences = manifest_differences(manifest, dict(dataset=dict(
        type=type(dataset).__name__, data_root=osp.abspath(dataset.data_root),
        split=dataset.split)))
    if differences:
        raise ValueError(f'the teacher cache {cache_dir!r} is not of the training set of this '
                         'run: ' + '; '.join(differences) + '. Write a cache for this run '
                         'with tools/distill/cache_teacher.py.')


def cached_teacher_outputs(data_samples: List[MultiTaskDataSample],
                           slices: Dict[str, slice], device: torch.device
                           ) -> Tuple[Dict[str, Tensor], Dict[str, Dict[str, Tensor]], Tensor]:
    """The teacher's outputs carried by the batch, aligned with its images.

    Each sample holds its stored outputs (data field ``teacher_outputs``,
    (h, w, C)) and where its pixels sample them (meta ``teacher_grid``, a
    :class:`~mmmtl.tasks.SamplingGrid`), see ``LoadTeacherOutputs``. The
    grid is built on ``device`` for the batch's padded size (meta
    ``batch_input_shape`` and ``padding_size`` of the data preprocessor),
    the outputs are sampled bilinearly at it and multiplied by the factors
    of their task kind's value rules.

    Args:
        slices: ``{output name: channels}`` of the stored outputs (manifest order).

    Returns:
        ``{task: (N, C, H, W)}`` final logits, ``{aux name: {task: logits}}``
        auxiliary outputs and the (N, H, W) bool mask of pixels the cache
        covers (False on padding, where the outputs are 0).
    """
    for sample in data_samples:
        if OUTPUTS_KEY not in sample or GRID_KEY not in sample.metainfo:
            raise KeyError(f'KDAMDistiller: the sample {sample.metainfo.get("img_path")} has '
                           'no cached teacher outputs: with teacher_cache, the training '
                           'pipeline needs LoadTeacherOutputs (see configs/kdam/*_cached.py).')
    grids = [sample.metainfo[GRID_KEY] for sample in data_samples]
    height, width = data_samples[0].metainfo.get('batch_input_shape', grids[0].shape)
    sampled, valid = [], []
    for sample, grid in zip(data_samples, grids):
        left, _, top, _ = sample.metainfo.get('padding_size', (0, 0, 0, 0))
        coords, covered = grid.dense(height, width, top, left, device)
        stored = sample.get(OUTPUTS_KEY).to(device, torch.float32).permute(2, 0, 1)
        sampled.append(F.grid_sample(stored[None], coords[None], mode='bilinear',
                                     padding_mode='border', align_corners=False)[0])
        valid.append(covered)
    valid_mask = torch.stack(valid)
    outputs = torch.stack(sampled) * valid_mask[:, None]  # 0 on padding, as the gt's pad value
    final: Dict[str, Tensor] = {}
    aux: Dict[str, Dict[str, Tensor]] = {}
    for name, channels in slices.items():
        task = name.rsplit('.', 1)[-1]  # '<task>' or '<aux name>.<task>'
        values = outputs[:, channels]
        kind = get_task_spec(task).kind
        if kind in grids[0].factors:  # the factors of the kind's value rules
            factors = torch.from_numpy(np.stack([grid.factors[kind] for grid in grids]))
            values = values * factors.to(device)[:, :, None, None]
        if '.' in name:
            aux.setdefault(name.rsplit('.', 1)[0], {})[task] = values
        else:
            final[name] = values
    return final, aux, valid_mask
