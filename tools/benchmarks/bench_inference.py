"""Inference latency of multi-task models: PyTorch against onnxruntime.

For every config (a KDAM config measures its student), on random input of
``--shape`` (the network alone: no data loading, no pre- or post-processing):

- Params and GFLOPs (tools/analysis_tools/get_flops.py's ``full`` count);
- PyTorch ``forward_tasks`` under ``torch.no_grad()``: median and 90th
  percentile latency over ``--iters`` runs after ``--warmup``, and
  throughput (images / s at the median);
- the same for the ONNX export (tools/deployment/pytorch2onnx.py's graph) in
  onnxruntime, with the same number of threads, and the largest difference of
  its logits from PyTorch's.

Weights are untrained (latency does not depend on them) and no pretrained
checkpoint is fetched.

Example:
    python tools/benchmarks/bench_inference.py configs/mtl/mtl_swinL_40k_nyud-425x560.py \
        configs/mtl/mtl_swinT_40k_nyud-425x560.py configs/mtl/mtl_hrnet18_40k_nyud-425x560.py \\
        --shape 425 560 --iters 5
"""
import argparse
import gc
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from mmengine.config import DictAction

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))

from get_flops import module_flops  # noqa: E402

from mmmtl.apis import init_model  # noqa: E402
from mmmtl.deployment import TaskLogitsModule, export_onnx, onnx_session, run_onnx  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Inference latency: PyTorch vs onnxruntime')
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--shape', type=int, nargs=2, required=True, metavar=('H', 'W'),
                        help='input height and width')
    parser.add_argument('--batch', type=int, default=1, help='batch size')
    parser.add_argument('--iters', type=int, default=10, help='timed runs per engine')
    parser.add_argument('--warmup', type=int, default=2, help='untimed runs first')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads of PyTorch and onnxruntime (default: torch\'s)')
    parser.add_argument('--no-onnx', action='store_true', help='PyTorch only')
    parser.add_argument('--out', help='also write the table (markdown) to this file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of every config (key=value)')
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0 or args.batch < 1:
        parser.error('--iters and --batch must be >= 1, --warmup >= 0')
    return args


def time_runs(run: Callable[[], object], iters: int, warmup: int,
              sync: Callable[[], None]) -> List[float]:
    """Seconds of each of ``iters`` calls of ``run`` after ``warmup`` calls."""
    for _ in range(warmup):
        run()
    sync()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return times


def summary(times: List[float], batch: int) -> Dict[str, float]:
    median = statistics.median(times)
    return dict(median_ms=1e3 * median, p90_ms=1e3 * float(np.percentile(times, 90)),
                fps=batch / median)


def bench_config(config: str, args: argparse.Namespace, onnx_dir: str) -> Dict[str, object]:
    device = torch.device(args.device)
    model = init_model(config, None, device=args.device, cfg_options=args.cfg_options)
    inputs = torch.randn(args.batch, 3, *args.shape, generator=torch.Generator().manual_seed(0))
    row: Dict[str, object] = dict(config=config)
    row['params_m'] = sum(p.numel() for p in model.parameters()) / 1e6
    cpu_model = model if device.type == 'cpu' else None
    with torch.no_grad():
        row['gflops'] = module_flops(TaskLogitsModule(model), inputs.to(device)) / 1e9
        sync = (lambda: torch.cuda.synchronize(device)) if device.type == 'cuda' else (
            lambda: None)
        on_device = inputs.to(device)
        reference = model.forward_tasks(on_device)
        row['torch'] = summary(
            time_runs(lambda: model.forward_tasks(on_device), args.iters, args.warmup, sync),
            args.batch)
    if not args.no_onnx:
        if cpu_model is None:  # the graph is traced on CPU
            cpu_model = model.cpu()
            reference = {task: logits.cpu() for task, logits in reference.items()}
        onnx_file = osp.join(onnx_dir, osp.splitext(osp.basename(config))[0] + '.onnx')
        export_onnx(cpu_model, onnx_file, args.shape, batch_size=args.batch)
        session = onnx_session(onnx_file, args.device, torch.get_num_threads())
        outputs = run_onnx(session, inputs)
        row['ort_max_diff'] = max(
            float(np.abs(outputs[task] - logits.numpy()).max())
            for task, logits in reference.items())
        row['ort'] = summary(
            time_runs(lambda: session.run(None, {'input': inputs.numpy()}), args.iters,
                      args.warmup, lambda: None), args.batch)
        os.remove(onnx_file)
    return row


def table(rows: List[Dict[str, object]], args: argparse.Namespace) -> str:
    header = ['Config', 'Params (M)', 'GFLOPs', 'PyTorch median (ms)', 'PyTorch p90 (ms)',
              'PyTorch img/s']
    if not args.no_onnx:
        header += ['ORT median (ms)', 'ORT p90 (ms)', 'ORT img/s', 'ORT max |Δ logits|']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for row in rows:
        torch_t = row['torch']
        cells = [f'`{row["config"]}`', f'{row["params_m"]:.2f}', f'{row["gflops"]:.2f}',
                 f'{torch_t["median_ms"]:.1f}', f'{torch_t["p90_ms"]:.1f}',
                 f'{torch_t["fps"]:.2f}']
        if not args.no_onnx:
            ort = row['ort']
            cells += [f'{ort["median_ms"]:.1f}', f'{ort["p90_ms"]:.1f}', f'{ort["fps"]:.2f}',
                      f'{row["ort_max_diff"]:.1e}']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no GPU is visible.')
    rows = []
    with tempfile.TemporaryDirectory(prefix='bench_inference_') as onnx_dir:
        for config in args.configs:
            print(f'Benchmarking {config} ...', flush=True)
            rows.append(bench_config(config, args, onnx_dir))
            gc.collect()  # free the last model before building the next
    setting = (f'input ({args.batch}, 3, {args.shape[0]}, {args.shape[1]}), device '
               f'{args.device}, {torch.get_num_threads()} thread(s), {args.iters} timed runs '
               f'after {args.warmup} warm-up, torch {torch.__version__}')
    if not args.no_onnx:
        import onnxruntime
        setting += f', onnxruntime {onnxruntime.__version__}'
    text = f'{setting}\n\n{table(rows, args)}'
    print(text)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as handle:
            handle.write(text + '\n')


if __name__ == '__main__':
    main()
