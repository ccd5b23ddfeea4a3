"""How faithful is a teacher cache? Cached-and-transformed against online teacher outputs.

Draws ``--batches`` batches with the training pipeline of a cached KDAM
config (so the cached maps go through the same random resize, crop, flip and
pad as the image) and runs the frozen teacher online on the same augmented
crops. Per distilled task, over the pixels the cache covers, it prints:

- ``CS``: the CS divergence (inter + intra terms of ``CSDivergenceLoss`` in
  the config's mode and temperature) of the cached outputs from the online
  ones, i.e. the distillation loss a student equal to the cache would get;
- ``KL``: ``KLDivergenceLoss`` (tau 1) of the same pair;
- ``agree``: label and binary tasks: the share of pixels where the cached and
  the online prediction (argmax, or sign of the logit) agree;
- ``rel_err``: depth and normals: ``sum |cached - online| / sum |online|``.

Example:
    python tools/distill/check_teacher_cache.py \\
        configs/kdam/kdam_swinL-swinT_40k_nyud-425x560_cached.py --batches 200
"""
import argparse
from collections import defaultdict
from typing import Dict, List

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner
from mmengine.runner.utils import set_random_seed

from mmmtl.models.distillers.kdam_distiller import build_frozen_teacher, resolve_teacher_ckpt
from mmmtl.models.distillers.teacher_cache import cached_teacher_outputs
from mmmtl.registry import MODELS
from mmmtl.tasks import get_task_spec
from mmmtl.utils import register_all_modules
from mmmtl.utils.teacher_cache import TeacherCache

COLUMNS = ('CS', 'KL', 'agree', 'rel_err')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Compare a teacher cache with the teacher')
    parser.add_argument('config', help='a KDAM config with model.teacher_cache')
    parser.add_argument('--batches', type=int, default=200, help='training batches to compare')
    parser.add_argument('--batch-size', type=int, help='default: the config\'s')
    parser.add_argument('--seed', type=int, default=0, help='seed of the augmentation')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config (xxx=yyy)')
    return parser.parse_args()


def task_statistics(task: str, cached: torch.Tensor, online: torch.Tensor,
                    valid: torch.Tensor, losses: Dict[str, torch.nn.Module]
                    ) -> Dict[str, float]:
    """The table's columns for one task on one batch of (N, C, H, W) outputs."""
    stats = {name: float(sum(loss(cached, online, valid).values()))
             for name, loss in losses.items()}
    kind = get_task_spec(task).kind
    if kind in ('label', 'binary'):
        if cached.shape[1] == 1:
            same = (cached[:, 0] > 0) == (online[:, 0] > 0)
        else:
            same = cached.argmax(1) == online.argmax(1)
        stats['agree'] = float(same[valid].float().mean())
    else:
        mask = valid[:, None].expand_as(online)
        stats['rel_err'] = float((cached - online).abs()[mask].sum() / online.abs()[mask].sum())
    return stats


def format_table(stats: Dict[str, Dict[str, List[float]]]) -> str:
    lines = [f"{'task':<14}" + ''.join(f'{c:>10}' for c in COLUMNS)]
    for task, columns in stats.items():
        cells = [(f'{sum(columns[c]) / len(columns[c]):10.4f}' if columns.get(c) else
                  f"{'-':>10}") for c in COLUMNS]
        lines.append(f'{task:<14}' + ''.join(cells))
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model_cfg = cfg.model
    if not model_cfg.get('teacher_cache'):
        raise ValueError(f'check_teacher_cache: {args.config} has no model.teacher_cache.')
    cache = TeacherCache(model_cfg.teacher_cache)
    manifest = cache.manifest
    # An untrained teacher is reproduced from the seed its cache was written with.
    torch.manual_seed(manifest['teacher'].get('untrained_seed') or 0)
    teacher = build_frozen_teacher(model_cfg.teacher_cfg,
                                   resolve_teacher_ckpt(model_cfg.get('teacher_ckpt')),
                                   model_cfg.get('allow_untrained_teacher', False))
    preprocessor = MODELS.build(model_cfg.get('data_preprocessor')
                                or model_cfg.student.data_preprocessor)
    losses = {}
    for task, loss_cfg in model_cfg.distill_losses.items():
        mode = loss_cfg.get('mode', 'channel')  # the losses' default
        losses[task] = dict(
            CS=MODELS.build(dict(type='CSDivergenceLoss', mode=mode,
                                 tau=loss_cfg.get('tau', 1.0), global_batch=False)),
            KL=MODELS.build(dict(type='KLDivergenceLoss', mode=mode, tau=1.0,
                                 global_batch=False)))

    set_random_seed(args.seed)
    loader_cfg = cfg.train_dataloader.copy()
    if args.batch_size:
        loader_cfg['batch_size'] = args.batch_size
    loader = Runner.build_dataloader(loader_cfg, seed=args.seed)
    stats: Dict[str, Dict[str, List[float]]] = {t: defaultdict(list) for t in losses}
    batches = 0
    for batch in loader:
        if batches == args.batches:
            break
        batches += 1
        data = preprocessor(batch, True)
        with torch.no_grad():
            online = teacher.forward_tasks(data['inputs'])
            cached, _, valid = cached_teacher_outputs(data['data_samples'], cache.slices,
                                                      data['inputs'].device)
            for task, task_losses in losses.items():
                for name, value in task_statistics(task, cached[task], online[task], valid,
                                                   task_losses).items():
                    stats[task][name].append(value)
    print(f'{args.config}: cache {model_cfg.teacher_cache} (scale {manifest["scale"]}, '
          f'{manifest["dtype"]}), {batches} batches of '
          f'{loader_cfg["batch_size"]}, pixels the cache covers')
    print(format_table(stats))


if __name__ == '__main__':
    main()
