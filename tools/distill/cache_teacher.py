"""Run a KDAM config's frozen teacher once over its training split and store its outputs.

The student then trains from the stored outputs (``model.teacher_cache``)
without running, or even building, the teacher: see docs/distillation.md.

Per training image it stores every distilled output of the teacher (the
final logits of each distilled task and, with ``distill_aux``, the teacher's
auxiliary outputs) as one ``.npy`` under ``OUT/entries/``, at ``--scale``
times the image size, in ``--dtype``; ``OUT/manifest.json`` records what the
cache is of (see ``mmmtl/utils/teacher_cache.py``). The teacher sees each
image whole, at its original size, as at test time.

Re-running the same command resumes: finished images are skipped. An image
is finished when its entry exists, and an entry is only ever renamed into
place whole. The manifest is marked complete once every image has an entry.

Example (``--out`` defaults to the config's ``model.teacher_cache``):
    python tools/distill/cache_teacher.py configs/kdam/kdam_swinL-swinT_40k_nyud-425x560_cached.py
    bash tools/distill/dist_cache_teacher.sh CONFIG 8    # each rank writes its share
"""
import argparse
import os
import os.path as osp
import time
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.dataset import pseudo_collate
from mmengine.dist import barrier, get_dist_info, init_dist
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader, Subset

from mmmtl.models.distillers.kdam_distiller import (
    build_frozen_teacher,
    resolve_teacher_ckpt,
    teacher_model_cfg,
)
from mmmtl.models.distillers.teacher_cache import teacher_identity
from mmmtl.registry import DATASETS
from mmmtl.utils import init_cpu_distributed, register_all_modules
from mmmtl.utils.teacher_cache import (
    DTYPES,
    TeacherCache,
    entry_path,
    make_manifest,
    manifest_differences,
    read_manifest,
    stored_size,
    write_entry,
    write_manifest,
)

# Seed of the weights of an untrained teacher (tests, benchmarks); recorded in the
# manifest so that tools/distill/check_teacher_cache.py can rebuild the same teacher.
UNTRAINED_SEED = 0
# What the teacher sees: the whole training image, as at test time.
VIEW_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='PackMultiTaskInputs', meta_keys=('img_path', 'sample_id', 'ori_shape')),
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Cache the outputs of a KDAM teacher')
    parser.add_argument('config', help='the KDAM config the student will train with')
    parser.add_argument('--out', help='cache directory, created or resumed (default: the '
                        "config's model.teacher_cache, where the student will read it)")
    parser.add_argument('--scale', type=float, default=0.25,
                        help='stored size / image size, in (0, 1] (default 0.25)')
    parser.add_argument('--dtype', choices=DTYPES, default='float16', help='stored dtype')
    parser.add_argument('--num-workers', type=int, default=2, help='image-loading workers')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config (xxx=yyy)')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def distilled_outputs(teacher: torch.nn.Module, tasks: List[str], with_aux: bool,
                      first_sample: dict) -> List[Tuple[str, int]]:
    """``(output name, channels)`` of everything the run distils, in storage order.

    Auxiliary outputs are found by running the teacher on ``first_sample``.
    """
    channels = teacher.task_channels
    outputs = [(task, channels[task]) for task in tasks]
    if with_aux:
        probe = teacher.data_preprocessor(pseudo_collate([first_sample]), False)['inputs']
        _, aux = forward_teacher(teacher, probe, with_aux)
        # Only auxiliary outputs in the task's output space are distilled (not,
        # e.g., ATRC's depth bins).
        outputs += [(f'{aux_name}.{task}', channels[task]) for aux_name, logits in aux.items()
                    for task in tasks
                    if task in logits and logits[task].shape[1] == channels[task]]
    return outputs


def forward_teacher(teacher: torch.nn.Module, inputs: torch.Tensor, with_aux: bool
                    ) -> Tuple[Dict[str, torch.Tensor], Dict[str, Dict[str, torch.Tensor]]]:
    with torch.no_grad():
        if with_aux and hasattr(teacher, 'forward_tasks_with_aux'):
            return teacher.forward_tasks_with_aux(inputs)
        return teacher.forward_tasks(inputs), {}


def cache_image(teacher: torch.nn.Module, data: dict, outputs: List[Tuple[str, int]],
                with_aux: bool, scale: float) -> List[np.ndarray]:
    """The teacher's (h, w, C) outputs on one image, cropped to it and resized by ``scale``."""
    data = teacher.data_preprocessor(data, False)
    final, aux = forward_teacher(teacher, data['inputs'], with_aux)
    height, width = data['data_samples'][0].ori_shape[:2]
    size = stored_size(height, width, scale)
    arrays = []
    for name, _ in outputs:
        if '.' in name:
            aux_name, task = name.rsplit('.', 1)
            logits = aux[aux_name][task]
        else:
            logits = final[name]
        logits = logits[:, :, :height, :width].float()  # drop the preprocessor's padding
        if size != (height, width):
            logits = F.interpolate(logits, size=size, mode='bilinear', align_corners=False)
        arrays.append(logits[0].permute(1, 2, 0).cpu().numpy())
    return arrays


def build_dataset(cfg: Config):
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    if 'data_root' not in dataset_cfg or 'split' not in dataset_cfg:
        raise ValueError('cache_teacher: train_dataloader.dataset must be a multi-task dataset '
                         f"with data_root and split (got type {dataset_cfg.get('type')!r}).")
    dataset_cfg['pipeline'] = VIEW_PIPELINE
    return DATASETS.build(dataset_cfg)


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model_cfg = cfg.model
    if model_cfg.get('type') != 'KDAMDistiller':
        raise ValueError(f'cache_teacher: {args.config} is not a KDAMDistiller config '
                         f"(model.type {model_cfg.get('type')!r}).")
    args.out = args.out or model_cfg.get('teacher_cache')
    if not args.out:
        raise ValueError(f'cache_teacher: give --out (the config {args.config} has no '
                         'model.teacher_cache).')
    if args.launcher == 'pytorch' and not init_cpu_distributed(cfg, args.launcher):
        init_dist('pytorch')
    rank, world_size = get_dist_info()
    device = torch.device(f"cuda:{os.environ['LOCAL_RANK']}" if torch.cuda.is_available()
                          else 'cpu')

    tasks = list(model_cfg.get('distill_losses') or {})
    if not tasks:
        raise ValueError(f'cache_teacher: {args.config} distils no task (model.distill_losses).')
    with_aux = bool(model_cfg.get('distill_aux', False))
    teacher_cfg, ckpt = model_cfg.teacher_cfg, resolve_teacher_ckpt(model_cfg.get('teacher_ckpt'))
    torch.manual_seed(UNTRAINED_SEED)  # an untrained teacher is the same on every rank
    teacher = build_frozen_teacher(teacher_cfg, ckpt,
                                   model_cfg.get('allow_untrained_teacher', False)).to(device)
    identity = teacher_identity(str(teacher_cfg), teacher_model_cfg(teacher_cfg), ckpt)
    if identity['checkpoint_sha256'] is None:
        identity['untrained_seed'] = UNTRAINED_SEED
    dataset = build_dataset(cfg)
    samples = {info['sample_id']: osp.relpath(info['img_path'], dataset.data_root)
               for info in (dataset.get_data_info(i) for i in range(len(dataset)))}
    outputs = distilled_outputs(teacher, tasks, with_aux, dataset[0])
    manifest = make_manifest(
        teacher=identity,
        dataset_type=type(dataset).__name__, data_root=dataset.data_root,
        split=dataset.split, samples=samples, tasks=tasks, outputs=outputs,
        scale=args.scale, dtype=args.dtype,
        view=dict(pipeline=VIEW_PIPELINE, data_preprocessor=teacher_model_cfg(
            teacher_cfg).get('data_preprocessor'), note=(
                'the whole image at its original size, normalised and padded at the '
                "bottom/right by the teacher's data preprocessor; outputs cropped back to the "
                'image, then resized bilinearly (align_corners=False) by `scale`')))
    if osp.isfile(osp.join(args.out, 'manifest.json')):
        old = read_manifest(args.out)
        differences = manifest_differences(old, {k: v for k, v in manifest.items()
                                                 if k != 'complete'})
        if differences:
            raise ValueError(f'cache_teacher: {args.out} holds a cache of something else: '
                             + '; '.join(differences) + '. Choose another --out.')
    elif rank == 0:
        write_manifest(args.out, manifest)
    barrier()

    ids = list(samples)
    mine = [index for index in range(rank, len(ids), world_size)
            if not osp.isfile(entry_path(args.out, ids[index]))]
    print(f'cache_teacher: rank {rank}/{world_size}: {len(mine)} images to write, '
          f'{len(range(rank, len(ids), world_size)) - len(mine)} already cached.', flush=True)
    loader = DataLoader(Subset(dataset, mine), batch_size=1, num_workers=args.num_workers,
                        collate_fn=pseudo_collate)
    progress = ProgressBar(len(mine)) if rank == 0 and mine else None
    start = time.perf_counter()
    for data in loader:
        sample_id = data['data_samples'][0].sample_id
        write_entry(args.out, sample_id,
                    cache_image(teacher, data, outputs, with_aux, args.scale), args.dtype)
        if progress is not None:
            progress.update()
    barrier()
    if rank == 0:
        missing = TeacherCache(args.out).missing()
        if missing:
            raise RuntimeError(f'cache_teacher: {len(missing)} images have no entry after all '
                               f'ranks finished (e.g. {missing[:3]}); run again to resume.')
        manifest['complete'] = True
        write_manifest(args.out, manifest)
        size = sum(osp.getsize(entry_path(args.out, sid)) for sid in ids)
        print_log(f'\ncache_teacher: {len(ids)} images cached in {args.out} '
                  f'({size / 2**20:.1f} MiB, {time.perf_counter() - start:.1f} s on rank 0).',
                  logger='current')


if __name__ == '__main__':
    main()
