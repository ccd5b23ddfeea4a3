"""The distiller's side of a teacher-output cache: manifest check, batch read-out."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmmtl.structures import MultiTaskDataSample
from mmmtl.utils.teacher_cache import (
    FIELD_PREFIX,
    VALID_KEY,
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
                         student_channels: Dict[str, int], distilled: Sequence[str]) -> dict:
    """Refuse a cache that is not of this run's teacher, tasks and channels.

    Returns the manifest; raises a ValueError listing every difference, or
    naming the missing output of a distilled task.
    """
    manifest = read_manifest(cache_dir)
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
    return manifest


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


def cached_teacher_outputs(data_samples: List[MultiTaskDataSample], device: torch.device
                           ) -> Tuple[Dict[str, Tensor], Dict[str, Dict[str, Tensor]], Tensor]:
    """The teacher's outputs carried by the batch: the data-sample fields
    ``teacher_<output>`` (C, H, W) and ``teacher_valid`` (1, H, W) that
    ``LoadTeacherOutputs`` adds.

    Returns:
        ``{task: (N, C, H, W)}`` final logits, ``{aux name: {task: logits}}``
        auxiliary outputs and the (N, H, W) bool mask of pixels the cache
        covers (False on padding).
    """
    for sample in data_samples:
        if VALID_KEY not in sample:
            raise KeyError(f'KDAMDistiller: the sample {sample.metainfo.get("img_path")} has '
                           'no cached teacher outputs: with teacher_cache, the training '
                           'pipeline needs LoadTeacherOutputs (see configs/kdam/*_cached.py).')
    final: Dict[str, Tensor] = {}
    aux: Dict[str, Dict[str, Tensor]] = {}
    for key in data_samples[0].keys():
        if not key.startswith(FIELD_PREFIX) or key == VALID_KEY:
            continue
        stacked = torch.stack([getattr(sample, key).data for sample in data_samples])
        stacked = stacked.to(device, non_blocking=True)
        name = key[len(FIELD_PREFIX):]
        if '.' in name:  # '<aux>.<task>'
            aux_name, task = name.rsplit('.', 1)
            aux.setdefault(aux_name, {})[task] = stacked
        else:
            final[name] = stacked
    valid = torch.stack([getattr(sample, VALID_KEY).data[0] for sample in data_samples])
    return final, aux, valid.to(device, non_blocking=True).bool()
