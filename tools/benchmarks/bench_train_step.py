"""Per-step time and peak memory of a multi-task model's training and inference.

On the same random batch (every task's ground truth), times the median of
``--iters`` training steps (forward, task losses, backward, optimizer step)
and inference forwards (``predict`` under ``torch.no_grad()``), and reports
the peak memory of each (CUDA: peak allocated; CPU: peak resident-set
increase, see bench_kd_step.py, whose measuring helpers this script shares).

Example:
    python tools/benchmarks/bench_train_step.py configs/mtl/mtl_swinT_40k_nyud-425x560.py \\
        --batch 1 --shape 425 560
"""
import argparse
import statistics
from typing import List

import torch
from bench_kd_step import peak_memory, synthetic_batch, timed  # same folder
from mmengine.config import Config, DictAction
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper

from mmmtl.registry import MODELS
from mmmtl.utils import register_all_modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark a multi-task training step')
    parser.add_argument('config', help='a multi-task model config (configs/mtl, configs/synthetic)')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--shape', type=int, nargs=2, default=[425, 560], metavar=('H', 'W'))
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--device', choices=('cpu', 'cuda'),
                        default='cuda' if torch.cuda.is_available() else 'cpu',
                        help='where to run (default: cuda if available)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.model.backbone.init_cfg = None  # random weights: no download
    device = torch.device(args.device)
    model = MODELS.build(cfg.model)
    if device.type != 'cuda':
        model = revert_sync_batchnorm(model)
    model = model.to(device)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = synthetic_batch(model, args.batch, tuple(args.shape))

    def train_step() -> None:
        model.train()
        model.train_step(batch, optim_wrapper)

    def inference() -> None:
        model.eval()
        with torch.no_grad():
            model.test_step(batch)

    results = {}
    for name, step in (('train_step', train_step), ('inference', inference)):
        for _ in range(args.warmup):
            step()
        times: List[float] = []
        memory: List[int] = []
        for _ in range(args.iters):
            timed(step, device, times)
        with peak_memory(device, memory):  # in a run of its own (see bench_kd_step.py)
            step()
        results[name] = (statistics.median(times), max(memory))
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f'{args.config}: {params:.2f} M params, batch {args.batch}, '
          f'{args.shape[0]}x{args.shape[1]}, {args.device}, threads {torch.get_num_threads()}')
    for name, (seconds, peak) in results.items():
        print(f'{name:>11}: {seconds:.3f} s/step  peak memory {peak / 2**20:.0f} MiB')


if __name__ == '__main__':
    main()
