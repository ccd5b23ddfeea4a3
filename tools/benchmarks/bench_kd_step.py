"""Cost of a KDAM distillation step against the student step + teacher forward.

In one process and on the same batch, times (median over ``--iters``):

- ``student_step``: the student's plain training step (forward, task losses,
  backward, optimizer step);
- ``teacher_forward``: the frozen teacher's forward under ``torch.no_grad()``;
- ``kd_step``: the distiller's training step (both networks, task losses,
  distillation losses, backward, optimizer step);
- ``distill_loss``: the distillation losses alone (forward + backward on the
  student's logits), reported as a share of ``kd_step``. As in the step, the
  losses get logits that the two networks have just computed (untimed, right
  before), so they run in the state the forwards leave behind (caches, thread
  pool, allocator) rather than after an unrelated phase.

It prints ``ratio = kd_step / (student_step + teacher_forward)``, the
losses' share of ``kd_step`` and the peak memory of each phase (CUDA: peak
allocated; CPU: peak resident-set increase over the phase, sampled every
millisecond after returning freed heap memory to the OS with ``malloc_trim``),
and the peak tensor memory of each distillation loss as a multiple of its
logits tensor. Results: tools/benchmarks/README.md.

With ``--cached`` the distiller reads the teacher's outputs from the batch, as
with ``model.teacher_cache`` (random float16 outputs of the right channels at
a quarter of the image size with their sampling grid, a manifest made for the
run in a temporary folder): the teacher is neither built nor
run, and the ratio printed is ``kd_step / student_step``. Compare its
``kd_step`` with an online run's for the speed-up, and the ``rss`` line
(the process's resident memory at the end) for the teacher's memory.

With ``--in-step-iters K`` it also times the distillation losses inside K
further ``kd_step`` runs: hooks around each loss module's forward and around
the autograd nodes between its terms and the student logits (its backward).
The hooks' own cost is counted in, so this share errs high.

Times are taken in steady state, as in training: after ``--warmup``
iterations, phases interleaved, nothing else running. Memory is measured in
separate runs of each phase afterwards (``--memory-iters``), because the
``malloc_trim`` and the sampling thread it needs would make every timed
phase start by faulting its pages back in, which a training loop does not do.

Example:
    python tools/benchmarks/bench_kd_step.py configs/synthetic/kdam_student_synthetic_nyud.py \
        --allow-untrained-teacher --batch 1 --shape 96 128 --iters 10
"""
import argparse
import ctypes
import os
import shutil
import statistics
import tempfile
import threading
import time
from contextlib import contextmanager
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData

from mmmtl.datasets.transforms.teacher_outputs import value_rule_kinds
from mmmtl.models.distillers.kdam_distiller import resolve_teacher_ckpt, teacher_model_cfg
from mmmtl.models.distillers.teacher_cache import cached_teacher_outputs, teacher_identity
from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.tasks import SamplingGrid, get_task_spec
from mmmtl.utils import register_all_modules
from mmmtl.utils.memory import peak_tensor_memory
from mmmtl.utils.teacher_cache import (
    GRID_KEY,
    OUTPUTS_KEY,
    make_manifest,
    stored_size,
    write_manifest,
)

PAGE_SIZE = os.sysconf('SC_PAGE_SIZE')
CACHE_SCALE = 0.25  # --cached: outputs stored at this fraction of the image size
CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}
clock = CLOCKS['wall']


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark a KDAM distillation step')
    parser.add_argument('config', help='a KDAMDistiller config')
    parser.add_argument('--batch', type=int, default=1, help='batch size')
    parser.add_argument('--shape', type=int, nargs=2, default=None, metavar=('H', 'W'),
                        help='input size (default: the config crop_size, else 480 640)')
    parser.add_argument('--iters', type=int, default=10, help='timed iterations per phase')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--memory-iters', type=int, default=3,
                        help='runs of each phase for the peak memory (after the timing)')
    parser.add_argument('--in-step-iters', type=int, default=0,
                        help='kd_step runs that time the losses inside the step (0: off)')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--device', choices=('cpu', 'cuda'),
                        default='cuda' if torch.cuda.is_available() else 'cpu',
                        help='where to run (default: cuda if available)')
    parser.add_argument('--clock', choices=tuple(CLOCKS), default='wall',
                        help='wall time, or CPU time of this process (steadier on a shared '
                        'machine; use with --threads 1)')
    parser.add_argument('--cached', action='store_true',
                        help='distil from a teacher cache (teacher outputs in the batch, no '
                        'teacher built): times student_step, kd_step and distill_loss')
    parser.add_argument('--allow-untrained-teacher', action='store_true',
                        help='use a random teacher when teacher_ckpt is missing')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config (key=value)')
    args = parser.parse_args()
    if args.iters < 1 or args.memory_iters < 1:
        parser.error('--iters and --memory-iters must be >= 1')
    return args


def _rss() -> int:
    with open('/proc/self/statm') as handle:
        return int(handle.read().split()[1]) * PAGE_SIZE


def _release_free_memory() -> None:
    """Give freed heap memory back to the OS (glibc), if possible."""
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


@contextmanager
def peak_memory(device: torch.device, record: List[int]):
    """Append the peak memory (bytes) used above the start of the block."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        yield
        torch.cuda.synchronize(device)
        record.append(torch.cuda.max_memory_allocated(device) - start)
        return
    _release_free_memory()  # so that the RSS of this phase starts from what is in use
    start, peak, running = _rss(), [0], [True]

    def sample() -> None:
        while running[0]:
            peak[0] = max(peak[0], _rss())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield
    finally:
        running[0] = False
        sampler.join()
        record.append(max(peak[0], _rss()) - start)


def print_loss_memory(distiller: torch.nn.Module, logits: Dict[str, Dict[str, torch.Tensor]],
                      device: torch.device) -> None:
    """Peak tensor memory of each distillation loss (forward + backward, the
    student logits' gradient included) as a multiple of its logits tensor."""
    print(f'{"task":<12}{"loss":<20}{"mode":<9}{"logits":>18}{"MiB":>8}{"peak MiB":>10}'
          f'{"x logits":>10}')
    for task, loss_fn in distiller.distill_losses.items():
        student = logits['student'][task].detach().requires_grad_()

        def run() -> None:
            sum(loss_fn(student, logits['teacher'][task]).values()).backward()

        size = student.numel() * student.element_size()
        peak = peak_tensor_memory(run, device)
        print(f'{task:<12}{type(loss_fn).__name__:<20}{loss_fn.mode:<9}'
              f'{"x".join(map(str, student.shape)):>18}{size / 2**20:>8.1f}'
              f'{peak / 2**20:>10.1f}{peak / size:>10.2f}')


def synthetic_batch(student: torch.nn.Module, batch: int, shape: Tuple[int, int]) -> dict:
    """Random uint8 images and ground truth of every task of ``student``."""
    height, width = shape
    gen = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, height, width), generator=gen, dtype=torch.uint8))
        sample = MultiTaskDataSample(metainfo=dict(
            img_shape=shape, ori_shape=shape, pad_shape=shape, tasks=list(student.tasks)))
        for task in student.tasks:
            spec = get_task_spec(task)
            gt = spec.task_kind.random_gt(student.task_channels[task], shape, gen)
            setattr(sample, spec.gt_key, PixelData(data=gt))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def cache_for_run(cfg: Config, cache_dir: str) -> Dict[str, int]:
    """Write a manifest in ``cache_dir`` that a cached distiller of ``cfg`` accepts
    (no entries: the benchmark puts the outputs in the batch); return the
    distilled tasks' channels."""
    model = cfg.model
    channels = MODELS.build(model.student).task_channels
    tasks = list(model.distill_losses)
    ckpt = resolve_teacher_ckpt(model.get('teacher_ckpt'))
    manifest = make_manifest(
        teacher=teacher_identity(str(model.teacher_cfg), teacher_model_cfg(model.teacher_cfg),
                                 ckpt),
        dataset_type='none', data_root=cache_dir, split='none', samples={}, tasks=tasks,
        outputs=[(task, channels[task]) for task in tasks], scale=CACHE_SCALE, dtype='float16',
        view={})
    manifest['complete'] = True
    write_manifest(cache_dir, manifest)
    return {task: channels[task] for task in tasks}


def add_teacher_outputs(batch: dict, channels: Dict[str, int], scale: float) -> None:
    """Random cached teacher outputs in every data sample, stored at ``scale``, with
    the sampling grid LoadTeacherOutputs adds."""
    gen = torch.Generator().manual_seed(1)
    kinds = value_rule_kinds(channels)
    for sample, image in zip(batch['data_samples'], batch['inputs']):
        height, width = image.shape[1:]
        stored = stored_size(height, width, scale)
        sample.set_field(torch.randn(*stored, sum(channels.values()), generator=gen).half(),
                         OUTPUTS_KEY)
        sample.set_metainfo({GRID_KEY: SamplingGrid.identity(height, width, kinds)})


def timed(fn: Callable[[], None], device: torch.device, times: List[float]) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    start = clock()
    fn()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    times.append(clock() - start)


def loss_nodes(terms: Dict[str, torch.Tensor], stop) -> List:
    """Autograd nodes from the loss terms back to (not including) ``stop``."""
    nodes, seen = [], set()
    stack = [term.grad_fn for term in terms.values() if term.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node is None or node is stop or node in seen:
            continue
        seen.add(node)
        nodes.append(node)
        stack.extend(parent for parent, _ in node.next_functions)
    return nodes


def time_losses_in_step(distiller: torch.nn.Module, kd_step: Callable[[], None],
                        iters: int) -> List[Tuple[float, float, float]]:
    """(kd_step, losses' forward, losses' backward) seconds of ``iters`` steps."""
    spent = dict(forward=0., backward=0.)
    started: Dict[int, float] = {}

    def before_forward(module, args) -> None:
        started[id(module)] = clock()

    def after_forward(module, args, terms) -> None:
        for node in loss_nodes(terms, args[0].grad_fn):
            node.register_prehook(
                lambda grads, key=id(node): started.__setitem__(key, clock()))
            node.register_hook(lambda grads_in, grads_out, key=id(node): spent.__setitem__(
                'backward', spent['backward'] + clock() - started[key]))
        # after the hooks are in place, so that their cost counts as the loss's
        spent['forward'] += clock() - started[id(module)]

    handles = []
    for loss in distiller.distill_losses.values():
        handles += [loss.register_forward_pre_hook(before_forward),
                    loss.register_forward_hook(after_forward)]
    results = []
    try:
        for _ in range(iters):
            spent.update(forward=0., backward=0.)
            start = clock()
            kd_step()
            results.append((clock() - start, spent['forward'], spent['backward']))
    finally:
        for handle in handles:
            handle.remove()
    return results


def main() -> None:
    global clock
    args = parse_args()
    clock = CLOCKS[args.clock]
    if args.clock == 'cpu' and args.device == 'cuda':
        raise SystemExit('--clock cpu does not measure GPU work; use --clock wall on cuda')
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.model.get('type') != 'KDAMDistiller':
        raise ValueError(f'{args.config}: model.type is {cfg.model.get("type")!r}, '
                         'bench_kd_step.py needs a KDAMDistiller config.')
    if args.allow_untrained_teacher:
        cfg.model.allow_untrained_teacher = True
    shape = tuple(args.shape or cfg.get('crop_size', (480, 640)))
    device = torch.device(args.device)

    cache_dir = tempfile.mkdtemp(prefix='bench_kd_step_cache_') if args.cached else None
    if args.cached:
        cached_channels = cache_for_run(cfg, cache_dir)
        cfg.model.teacher_cache = cache_dir
    distiller = MODELS.build(cfg.model).to(device)
    distiller.train()
    optim_wrapper = build_optim_wrapper(distiller, cfg.optim_wrapper)
    batch = synthetic_batch(distiller.student, args.batch, shape)
    if args.cached:
        add_teacher_outputs(batch, cached_channels, CACHE_SCALE)
        shutil.rmtree(cache_dir)
    data = distiller.data_preprocessor(batch, True)
    inputs, samples = data['inputs'], data['data_samples']

    def teacher_logits() -> Dict[str, torch.Tensor]:
        if args.cached:
            return cached_teacher_outputs(samples, distiller._cache_slices, device)[0]
        return distiller.teacher_logits(inputs)

    def student_step() -> None:
        losses = distiller.student.loss(inputs, samples)
        loss, _ = distiller.parse_losses(losses)
        optim_wrapper.update_params(loss)

    def teacher_forward() -> None:
        distiller.teacher_logits(inputs)

    def kd_step() -> None:
        losses = distiller.loss(inputs, samples)
        loss, _ = distiller.parse_losses(losses)
        optim_wrapper.update_params(loss)

    logits: Dict[str, Dict[str, torch.Tensor]] = {}

    def compute_logits() -> None:
        with torch.no_grad():
            logits['student'] = distiller.student.forward_tasks(inputs)
        logits['teacher'] = teacher_logits()

    def distill_losses() -> None:
        total = 0.
        for task, loss_fn in distiller.distill_losses.items():
            student = logits['student'][task].detach().requires_grad_()
            total = total + sum(loss_fn(student, logits['teacher'][task]).values())
        total.backward()

    phases = dict(student_step=student_step, teacher_forward=teacher_forward,
                  kd_step=kd_step, distill_loss=distill_losses)
    if args.cached:  # no teacher to run
        del phases['teacher_forward']
    untimed_setup = dict(distill_loss=compute_logits)
    times: Dict[str, List[float]] = {name: [] for name in phases}
    memory: Dict[str, List[int]] = {name: [] for name in phases}
    for iteration in range(args.warmup + args.iters):
        for name, fn in phases.items():  # interleaved: same conditions for every phase
            if name in untimed_setup:
                untimed_setup[name]()
            if iteration < args.warmup:
                fn()
            else:
                timed(fn, device, times[name])
    for _ in range(args.memory_iters):
        for name, fn in phases.items():
            if name in untimed_setup:
                untimed_setup[name]()
            with peak_memory(device, memory[name]):
                fn()

    median = {name: statistics.median(values) for name, values in times.items()}
    peak = {name: max(values) / 2**20 for name, values in memory.items()}
    print(f'config: {args.config}')
    print(f'device: {device}, threads: {torch.get_num_threads()}, batch: {args.batch}, '
          f'shape: {shape[0]}x{shape[1]}, iters: {args.iters}, clock: {args.clock}')
    print(f'{"phase":<16}{"median ms":>12}{"min ms":>10}{"peak MiB":>10}')
    for name in phases:
        print(f'{name:<16}{median[name] * 1e3:>12.1f}{min(times[name]) * 1e3:>10.1f}'
              f'{peak[name]:>10.1f}')
    share = median['distill_loss'] / median['kd_step']
    if args.cached:
        separate, denominator = median['student_step'], 'student_step'
    else:
        separate = median['student_step'] + median['teacher_forward']
        denominator = '(student_step + teacher_forward)'
    print(f'ratio kd_step / {denominator}: {median["kd_step"] / separate:.3f}')
    print(f'distill loss share of kd_step: {100 * share:.2f}%')
    print_loss_memory(distiller, logits, device)
    if args.in_step_iters:
        steps = time_losses_in_step(distiller, kd_step, args.in_step_iters)
        forward = statistics.median(step[1] for step in steps)
        backward = statistics.median(step[2] for step in steps)
        in_step = statistics.median((step[1] + step[2]) / step[0] for step in steps)
        print(f'distill loss inside kd_step ({len(steps)} steps, hooks): forward '
              f'{forward * 1e3:.1f} ms + backward {backward * 1e3:.1f} ms = '
              f'{100 * in_step:.2f}% of the step (median)')
    teacher = ('none (teacher cache)' if distiller.teacher is None else
               f'{sum(p.numel() for p in distiller.teacher.parameters()) / 1e6:.2f} M')
    print(f'student params: {sum(p.numel() for p in distiller.student.parameters()) / 1e6:.2f} '
          f'M, teacher params: {teacher}, rss: {np.round(_rss() / 2**20, 1)} MiB')


if __name__ == '__main__':
    main()
