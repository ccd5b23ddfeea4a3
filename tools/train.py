"""Train a multi-task model or a KDAM distiller.

Example:
    python tools/train.py configs/mtl/mtl_swinT_40k_nyud-425x560.py
    bash tools/dist_train.sh configs/kdam/kdam_swinL-swinT_40k_nyud-425x560.py 8
"""
import argparse
import logging
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from mmmtl.engine import MultiTaskRunner
from mmmtl.registry import RUNNERS
from mmmtl.utils import collective_timeout_names_ranks, init_cpu_distributed, register_all_modules
from mmmtl.utils.config_path import check_config_path
from mmmtl.utils.resume import resolve_resume


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a multi-task segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work_dir automatically (the one '
        'last_checkpoint names, or the newest complete one if that is missing or incomplete)')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training (needs a GPU)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def enable_amp(cfg: Config) -> None:
    """Switch the optimizer wrapper to ``AmpOptimWrapper``."""
    import torch
    if not torch.cuda.is_available():
        raise RuntimeError('--amp needs a GPU: mmengine\'s AmpOptimWrapper '
                           'runs on CUDA devices only.')
    optim_wrapper = cfg.optim_wrapper.type
    if optim_wrapper == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in your config.',
                  logger='current', level=logging.WARNING)
        return
    if optim_wrapper != 'OptimWrapper':
        raise ValueError('`--amp` is only supported when the optimizer wrapper '
                         f'type is `OptimWrapper` but got {optim_wrapper}.')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def check_schedule(cfg: Config) -> None:
    """Refuse a training schedule that would train nothing."""
    train_cfg = cfg.get('train_cfg') or {}
    for key in ('max_iters', 'max_epochs'):
        value = train_cfg.get(key)
        if value is not None and value <= 0:
            raise ValueError(f'train_cfg.{key} is {value}: a run must train at least one '
                             f'{key[4:-1]}.')


def main() -> None:
    args = parse_args()
    check_config_path(args.config)
    register_all_modules(init_default_scope=False)

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        enable_amp(cfg)
    cfg.resume = args.resume
    check_schedule(cfg)
    resolve_resume(cfg)

    init_cpu_distributed(cfg, args.launcher)

    with collective_timeout_names_ranks(cfg):
        # MultiTaskRunner: strict checkpoint loading (load_from, --resume).
        runner = (MultiTaskRunner.from_cfg(cfg) if 'runner_type' not in cfg else
                  RUNNERS.build(cfg))
        runner.train()


if __name__ == '__main__':
    main()
