"""A seeded study of KDAM against plain KD, DIST and the student baseline.

Every method is trained once per seed through ``tools/train.py`` and
evaluated through ``tools/test.py`` (distilled students after
``tools/model_converters/extract_student.py``, with the student baseline's
config), on synthetic NYUD-v2-layout data with three splits:

- ``train``: training;
- ``val``: the validation loop at the end of training; the tau / beta
  sweeps (paper Table 5) are compared here and the best setting of each
  family is chosen here;
- ``test``: every number in the main table (never used for a choice).

One teacher per seed: the students of seed ``s`` are distilled from the
teacher trained with seed ``s``, so the spread over seeds includes the
teacher's. The teacher trains ``--teacher-iters`` (3x the students' by
default), as a teacher is trained before anyone distils from it. Every
student gets the same data, iterations, batch and schedule. Delta_m of a
run is measured against the student baseline of the same seed; the table
shows mean +- sample std over seeds.

Runs are resumable: a run whose ``result.json`` exists is skipped.

Example::

    python tools/analysis_tools/kd_study.py --out work_dirs/kd_study
    python tools/analysis_tools/kd_study.py --quick --out work_dirs/kd_study_quick
    python tools/analysis_tools/kd_study.py --out work_dirs/kd_study --plot-only
"""
import argparse
import csv
import json
import math
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from mmmtl.evaluation.functional import delta_m  # noqa: E402

TEACHER_CFG = 'configs/synthetic/mtl_teacher_synthetic_nyud.py'
STUDENT_CFG = 'configs/synthetic/mtl_student_synthetic_nyud.py'
KDAM_CFG = 'configs/synthetic/kdam_student_synthetic_nyud.py'
KDAM_CACHED_CFG = 'configs/synthetic/kdam_student_synthetic_nyud_cached.py'
TASKS = ('semseg', 'depth', 'normal', 'edge')
# metric key -> (column title, higher is better)
COLUMNS = {
    'semseg/mIoU': ('SemSeg mIoU↑', True),
    'depth/rmse': ('Depth rmse↓', False),
    'normal/mean': ('Normal mErr↓', False),
    'edge/odsF': ('Bound odsF↑', True),
}
HIGHER = {key: hib for key, (_, hib) in COLUMNS.items()}
FAMILIES = {'kd': 'plain KD', 'kdam': 'KDAM', 'dist': 'DIST'}  # sweep families
DM = 'delta_m'
REFERENCE = 'baseline'


@dataclass
class Method:
    """One row of the study: a config and the --cfg-options that make it."""
    name: str
    label: str
    config: str
    options: List[str] = field(default_factory=list)
    family: Optional[str] = None  # sweep family ('kd' / 'kdam' / 'dist') or None
    distilled: bool = False
    cached: bool = False  # distils from the teacher cache of its seed's teacher
    online: Optional[str] = None  # of a cached method: the same method with the teacher run


def _losses(loss_type: str, **args) -> List[str]:
    options = [f'model.distill_losses.{task}.type={loss_type}' for task in TASKS]
    for key, value in args.items():
        options += [f'model.distill_losses.{task}.{key}={value}' for task in TASKS]
    return options


def _fmt(value: float) -> str:
    return f'{value:g}'


# DIST's loss_weight on depth, chosen on val among DIST_DEPTH_WEIGHTS (docs/distillation.md):
# DIST is blind to a map's level and its gradient on the depth logits is 3-8x the depth loss's.
DIST_DEPTH_WEIGHT = 0.1
DIST_DEPTH_WEIGHTS = (1.0, 0.25, 0.1)


def _dist(depth_weight: float) -> List[str]:
    # DIST's row term on binary edges is a ±1 sign agreement without gradient: intra only
    return _losses('DISTLoss', tau=1.0) + ['model.distill_losses.edge.inter_weight=0.0',
                                          f'model.distill_losses.depth.loss_weight={depth_weight}']


def build_methods(kd_taus: Sequence[float], kdam_taus: Sequence[float],
                  betas: Sequence[float],
                  dist_depth_weights: Sequence[float] = ()) -> Dict[str, Method]:
    """All methods of the study, keyed by name (main rows first, then sweeps)."""
    methods = [
        Method('teacher', 'teacher (larger)', TEACHER_CFG),
        Method(REFERENCE, 'student baseline', STUDENT_CFG),
        Method('kd', 'plain KD (KL, τ=3)', KDAM_CFG, _losses('KLDivergenceLoss', tau=3.0),
               'kd', True),
        Method('dist', f'DIST (τ=1, depth ×{_fmt(DIST_DEPTH_WEIGHT)})', KDAM_CFG,
               _dist(DIST_DEPTH_WEIGHT), 'dist', True),
        Method('kdam_inter', 'KDAM inter only', KDAM_CFG,
               _losses('CSDivergenceLoss', tau=1.0, intra_weight=0.0), None, True),
        Method('kdam_intra', 'KDAM intra only', KDAM_CFG,
               _losses('CSDivergenceLoss', tau=1.0, inter_weight=0.0), None, True),
        Method('kdam', 'KDAM inter+intra (τ=1)', KDAM_CFG, _losses('CSDivergenceLoss', tau=1.0),
               'kdam', True),
        Method('kdam_cached', 'KDAM from a teacher cache (τ=1)', KDAM_CACHED_CFG,
               _losses('CSDivergenceLoss', tau=1.0), None, True, cached=True, online='kdam'),
    ]
    for tau in kd_taus:
        if tau != 3.0:
            methods.append(Method(f'kd_tau{_fmt(tau)}', f'plain KD τ={_fmt(tau)}', KDAM_CFG,
                                  _losses('KLDivergenceLoss', tau=tau), 'kd', True))
    for beta in betas:
        if beta != 1.0:
            methods.append(Method(f'kd_beta{_fmt(beta)}', f'plain KD β={_fmt(beta)}', KDAM_CFG,
                                  _losses('KLDivergenceLoss', tau=3.0) + [f'model.beta={beta}'],
                                  'kd', True))
    for tau in kdam_taus:
        if tau != 1.0:
            methods.append(Method(f'kdam_tau{_fmt(tau)}', f'KDAM τ={_fmt(tau)}', KDAM_CFG,
                                  _losses('CSDivergenceLoss', tau=tau), 'kdam', True))
    for beta in betas:
        if beta != 1.0:
            methods.append(Method(f'kdam_beta{_fmt(beta)}', f'KDAM β={_fmt(beta)}', KDAM_CFG,
                                  _losses('CSDivergenceLoss', tau=1.0) + [f'model.beta={beta}'],
                                  'kdam', True))
    for weight in dist_depth_weights:
        if weight != DIST_DEPTH_WEIGHT:
            methods.append(Method(f'dist_depth{_fmt(weight)}', f'DIST depth ×{_fmt(weight)}',
                                  KDAM_CFG, _dist(weight), 'dist', True))
    return {m.name: m for m in methods}


# ---------------------------------------------------------------------------
# Aggregation (pure functions, tested against hand-computed numbers)
# ---------------------------------------------------------------------------


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; nan for one value)."""
    if not values:
        raise ValueError('mean_std needs at least one value')
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, float('nan')
    var = sum((v - mean)**2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)


def per_seed_delta_m(results: Mapping[str, Mapping[int, Mapping[str, float]]],
                     reference: str = REFERENCE) -> Dict[str, Dict[int, float]]:
    """Delta_m [%] of every (method, seed) against ``reference`` of the same seed.

    Args:
        results: ``{method: {seed: {metric key: value}}}`` with the keys of
            :data:`COLUMNS`.
        reference: The method every run is compared with.
    """
    if reference not in results:
        raise KeyError(f'kd_study: the reference method {reference!r} has no results')
    out: Dict[str, Dict[int, float]] = {}
    for method, seeds in results.items():
        out[method] = {}
        for seed, metrics in seeds.items():
            if seed not in results[reference]:
                raise KeyError(f'kd_study: seed {seed} of {method!r} has no {reference!r} run')
            ref = results[reference][seed]
            out[method][seed] = delta_m({k: metrics[k] for k in COLUMNS},
                                        {k: ref[k] for k in COLUMNS}, HIGHER)
    return out


def aggregate(results: Mapping[str, Mapping[int, Mapping[str, float]]],
              reference: str = REFERENCE) -> Dict[str, Dict[str, Tuple[float, float]]]:
    """``{method: {metric key or 'delta_m': (mean, std)}}`` over the seeds."""
    dms = per_seed_delta_m(results, reference)
    table = {}
    for method, seeds in results.items():
        order = sorted(seeds)
        row = {key: mean_std([seeds[s][key] for s in order]) for key in COLUMNS}
        row[DM] = mean_std([dms[method][s] for s in order])
        table[method] = row
    return table


def paired_differences(results: Mapping[str, Mapping[int, Mapping[str, float]]],
                       method: str, other: str, reference: str = REFERENCE,
                       level: float = 0.95) -> Dict[str, dict]:
    """Per-seed differences ``method - other`` and their mean with a t interval.

    Seeds pair the runs: the same data order, initialisation and teacher.
    For every metric key and Delta_m (each against the reference of its
    seed) returns ``dict(per_seed={seed: difference}, mean, low, high)``,
    the ``level`` confidence interval of the mean difference (Student's t
    with n - 1 degrees of freedom; nan bounds for one seed).
    """
    from scipy import stats
    seeds = sorted(set(results[method]) & set(results[other]))
    if not seeds:
        raise KeyError(f'kd_study: {method!r} and {other!r} share no seed')
    dms = per_seed_delta_m(results, reference)
    out = {}
    for key in list(COLUMNS) + [DM]:
        def value(name, seed):
            return dms[name][seed] if key == DM else results[name][seed][key]
        diffs = {seed: value(method, seed) - value(other, seed) for seed in seeds}
        mean, std = mean_std(list(diffs.values()))
        if len(seeds) < 2:
            low = high = float('nan')
        else:
            half = stats.t.ppf(0.5 + level / 2, len(seeds) - 1) * std / math.sqrt(len(seeds))
            low, high = mean - half, mean + half
        out[key] = dict(per_seed=diffs, mean=mean, low=low, high=high)
    return out


def comparison_pairs(methods: Mapping[str, Method], names: Sequence[str]
                     ) -> List[Tuple[str, str]]:
    """(method, other) pairs the report compares seed by seed: every cached
    method with its online one, every distilled method with the baseline."""
    pairs = [(n, methods[n].online) for n in names
             if methods[n].online is not None and methods[n].online in names]
    pairs += [(n, REFERENCE) for n in names if methods[n].distilled and not _is_sweep(n)]
    return pairs


def paired_table(results: Mapping[str, Mapping[int, Mapping[str, float]]],
                 pairs: Sequence[Tuple[str, str]], labels: Mapping[str, str]) -> str:
    """Markdown: per pair, the mean difference [95 % interval] of every metric
    and Delta_m, then the per-seed Delta_m differences."""
    header = ['Difference', 'n'] + [title for title, _ in COLUMNS.values()] + ['Δm [%]↑',
                                                                          'Δm per seed']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for method, other in pairs:
        diffs = paired_differences(results, method, other)
        cells = [f'{labels[method]} − {labels[other]}', str(len(diffs[DM]['per_seed']))]
        for key in list(COLUMNS) + [DM]:
            d, digits = diffs[key], _digits(key)
            interval = ('' if math.isnan(d['low']) else
                        f' [{d["low"]:+.{digits}f}, {d["high"]:+.{digits}f}]')
            cells.append(f'{d["mean"]:+.{digits}f}{interval}')
        cells.append(', '.join(f'{v:+.2f}' for _, v in sorted(diffs[DM]['per_seed'].items())))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def choose_on_val(val_dm: Mapping[str, Tuple[float, float]],
                  methods: Mapping[str, Method], family: str) -> str:
    """The member of a sweep family with the highest mean validation Delta_m."""
    members = [name for name, m in methods.items() if m.family == family and name in val_dm]
    if not members:
        raise KeyError(f'kd_study: no run of sweep family {family!r}')
    return max(members, key=lambda name: val_dm[name][0])


# ---------------------------------------------------------------------------
# Running the grid
# ---------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', help='study folder (data, runs, summary); required '
                        'unless --list')
    parser.add_argument('--methods', nargs='+', help='method names (default: all); the '
                        'teacher and the baseline are added when a method needs them')
    parser.add_argument('--seeds', type=int, nargs='+', help='training seeds '
                        '(default 0 1 2; --quick: 0 1)')
    parser.add_argument('--quick', action='store_true',
                        help='tiny data and images, a few dozen iterations (for tests)')
    parser.add_argument('--iters', type=int, help='training iterations of every student '
                        'run (default 500; --quick: 20)')
    parser.add_argument('--teacher-iters', type=int, help='training iterations of the '
                        'teacher (default: 3x --iters; a teacher is trained to convergence '
                        'before anyone distils from it)')
    parser.add_argument('--jobs', type=int, default=2,
                        help='runs trained at the same time (each on one thread)')
    parser.add_argument('--difficulty', choices=('easy', 'hard'), default='easy',
                        help='synthetic generator level (see make_synthetic_dataset.py); '
                        'at the default budget only easy data gives a teacher-student gap '
                        'on every task (docs/model_zoo.md)')
    parser.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'),
                        help='image size of the data (default: the training crop of the '
                        'student config, 64 96; --quick: 48 64)')
    parser.add_argument('--data-seed', type=int, default=0, help='seed of the data')
    parser.add_argument('--list', action='store_true', help='print the methods and exit')
    parser.add_argument('--plot-only', action='store_true',
                        help='only redraw <out>/summary.png from <out>/summary.csv (its test '
                        'mean and std rows), without training')
    args = parser.parse_args(argv)
    if args.out is None and not args.list:
        parser.error('--out is required')
    if args.seeds is None:
        args.seeds = [0, 1] if args.quick else [0, 1, 2]
    if args.iters is None:
        args.iters = 20 if args.quick else 500
    if args.teacher_iters is None:
        args.teacher_iters = 3 * args.iters
    return args


def study_methods(quick: bool) -> Dict[str, Method]:
    if quick:
        return build_methods(kd_taus=(3.0, 8.0), kdam_taus=(1.0, 3.0), betas=(1.0, 2.0))
    return build_methods(kd_taus=(1.0, 3.0, 8.0), kdam_taus=(0.5, 1.0, 3.0),
                         betas=(0.5, 1.0, 2.0), dist_depth_weights=DIST_DEPTH_WEIGHTS)


def training_crop(config: str) -> Tuple[int, int]:
    """(H, W) of the random crop in ``config``'s training pipeline."""
    from mmengine.config import Config
    pipeline = Config.fromfile(osp.join(ROOT, config)).train_dataloader.dataset.pipeline
    crops = [tuple(t['crop_size']) for t in pipeline if t['type'] == 'MultiTaskRandomCrop']
    if len(crops) != 1:
        raise ValueError(f'kd_study: {config} has {len(crops)} MultiTaskRandomCrop steps in '
                         'its training pipeline; give the image size with --size')
    return crops[0]


class Study:
    """The grid of methods x seeds in ``out``."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out = osp.abspath(args.out)
        self.all_methods = study_methods(args.quick)
        names = args.methods or list(self.all_methods)
        unknown = [n for n in names if n not in self.all_methods]
        if unknown:
            raise SystemExit(f'kd_study: unknown method(s) {unknown}; choose from '
                             f'{list(self.all_methods)}')
        if any(self.all_methods[n].distilled for n in names) and 'teacher' not in names:
            names = ['teacher'] + names
        if REFERENCE not in names:
            names = [REFERENCE] + names
        self.methods = {n: m for n, m in self.all_methods.items() if n in names}
        self.data_root = osp.join(self.out, 'data')
        self.counts, self.batch = ((8, 4, 4), 2) if args.quick else ((160, 40, 40), 4)
        if args.size is not None:
            self.size = tuple(args.size)
        elif args.quick:
            self.size = (48, 64)
        else:
            # Images the size of the training crops: trained on 64x96 crops of
            # 96x128 images, the depth level of whole test images drifts by
            # seed (docs/model_zoo.md).
            self.size = training_crop(STUDENT_CFG)
        self._lock = threading.Lock()
        self._bar = None

    # -- data -----------------------------------------------------------
    def make_data(self) -> None:
        num_train, num_val, num_test = self.counts
        params = dict(num_train=num_train, num_val=num_val, num_test=num_test,
                      size=list(self.size), difficulty=self.args.difficulty,
                      seed=self.args.data_seed)
        params_file = osp.join(self.data_root, 'study_data.json')
        if osp.isfile(osp.join(self.data_root, 'gt_sets', 'test.txt')):
            made = None
            if osp.isfile(params_file):
                with open(params_file) as handle:
                    made = json.load(handle)
            if made != params:
                raise RuntimeError(f'kd_study: {self.data_root} holds other data ({made}) '
                                   f'than asked for ({params}); use another --out.')
            return
        self._run([sys.executable, 'tools/misc/make_synthetic_dataset.py', '--layout', 'nyud',
                   '--out', self.data_root, '--num-train', str(num_train), '--num-val',
                   str(num_val), '--num-test', str(num_test), '--size', str(self.size[0]),
                   str(self.size[1]), '--difficulty', self.args.difficulty, '--seed',
                   str(self.args.data_seed)], osp.join(self.out, 'make_data.log'))
        with open(params_file, 'w') as handle:
            json.dump(params, handle)

    # -- one run ----------------------------------------------------------
    def run_dir(self, method: str, seed: int) -> str:
        return osp.join(self.out, 'runs', f'seed{seed}', method)

    def common_options(self, seed: int, iters: Optional[int] = None) -> List[str]:
        n = iters or self.args.iters
        options = [f'{split}_dataloader.dataset.data_root={self.data_root}'
                   for split in ('train', 'val', 'test')]
        options += [
            f'randomness.seed={seed}', f'train_cfg.max_iters={n}', f'train_cfg.val_interval={n}',
            f'param_scheduler.0.end={n}', f'default_hooks.checkpoint.interval={n}',
            f'default_hooks.logger.interval={max(1, n // 5)}',
            f'train_dataloader.batch_size={self.batch}'
        ]
        return options

    def _run(self, cmd: List[str], log: str) -> None:
        env = dict(os.environ)
        env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
        # One thread per run: the same seed gives the same numbers whatever --jobs is.
        env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = '1'
        os.makedirs(osp.dirname(log), exist_ok=True)
        with open(log, 'w') as handle:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=handle,
                                  stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            with open(log) as handle:
                tail = handle.read()[-4000:]
            raise RuntimeError(f'kd_study: {" ".join(cmd)} failed ({proc.returncode}); '
                               f'log {log}:\n{tail}')

    def run_one(self, method: Method, seed: int) -> dict:
        work_dir = self.run_dir(method.name, seed)
        result_file = osp.join(work_dir, 'result.json')
        iters = self.args.teacher_iters if method.name == 'teacher' else self.args.iters
        options = self.common_options(seed, iters) + list(method.options)
        if method.distilled:
            options.append(f'model.teacher_ckpt={self.run_dir("teacher", seed)}')
        if method.cached:  # the LoadTeacherOutputs transform is the pipeline's third
            cache = osp.join(self.out, 'runs', f'seed{seed}', 'teacher_cache')
            options += [f'model.teacher_cache={cache}',
                        f'train_dataloader.dataset.pipeline.2.cache_dir={cache}']
        if osp.isfile(result_file):
            with open(result_file) as handle:
                result = json.load(handle)
            if result.get('options') != options:
                raise RuntimeError(f'kd_study: {result_file} was run with other options '
                                   f'({result.get("options")}) than now ({options}); use '
                                   'another --out or the same arguments.')
            return result
        start = time.time()
        if method.cached:  # resumes: a cache finished for another run is reused
            self._run([sys.executable, 'tools/distill/cache_teacher.py', method.config,
                       '--num-workers', '0', '--cfg-options', *options],
                      osp.join(work_dir, 'cache_teacher.log'))
        self._run([sys.executable, 'tools/train.py', method.config, '--work-dir', work_dir,
                   '--cfg-options', *options], osp.join(work_dir, 'train_stdout.log'))
        with open(osp.join(work_dir, 'last_checkpoint')) as handle:
            ckpt = handle.read().strip()
        val = read_val_metrics(work_dir)
        config = method.config
        if method.distilled:
            student = osp.join(work_dir, 'student.pth')
            self._run([sys.executable, 'tools/model_converters/extract_student.py', ckpt,
                       student], osp.join(work_dir, 'extract.log'))
            ckpt, config = student, STUDENT_CFG
        metrics_file = osp.join(work_dir, 'test', 'metrics.json')
        self._run([sys.executable, 'tools/test.py', config, ckpt, '--work-dir',
                   osp.join(work_dir, 'test'), '--metrics-out', metrics_file, '--cfg-options',
                   *self.common_options(seed), 'test_dataloader.dataset.split=test'],
                  osp.join(work_dir, 'test_stdout.log'))
        with open(metrics_file) as handle:
            test = json.load(handle)
        result = dict(method=method.name, seed=seed, val=val, test=test,
                      seconds=time.time() - start, options=options)
        with open(result_file, 'w') as handle:
            json.dump(result, handle, indent=2)
        return result

    # -- the grid ---------------------------------------------------------
    def run(self) -> Dict[str, Dict[int, dict]]:
        self.make_data()
        jobs = [(m, s) for m in self.methods.values() for s in self.args.seeds]
        first = [(m, s) for m, s in jobs if not m.distilled]  # teachers, baselines
        second = [(m, s) for m, s in jobs if m.distilled]
        results: Dict[str, Dict[int, dict]] = {m: {} for m in self.methods}
        done = sum(osp.isfile(osp.join(self.run_dir(m.name, s), 'result.json')) for m, s in jobs)
        print(f'kd_study: {len(jobs)} runs ({done} already finished) in {self.out}', flush=True)
        from mmengine.utils import ProgressBar
        self._bar = ProgressBar(len(jobs))

        def work(job):
            method, seed = job
            result = self.run_one(method, seed)
            with self._lock:
                results[method.name][seed] = result
                self._bar.update()

        for phase in (first, second):
            with ThreadPoolExecutor(max_workers=max(1, self.args.jobs)) as pool:
                list(pool.map(work, phase))
        print('', flush=True)
        return results


def read_val_metrics(work_dir: str) -> Dict[str, float]:
    """The last validation metrics that tools/train.py logged in ``work_dir``."""
    runs = sorted(d for d in os.listdir(work_dir)
                  if osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    if not runs:
        raise FileNotFoundError(f'kd_study: no vis_data/scalars.json under {work_dir}')
    metrics = None
    with open(osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')) as handle:
        for line in handle:
            record = json.loads(line)
            if all(key in record for key in COLUMNS):
                metrics = record
    if metrics is None:
        raise KeyError(f'kd_study: {work_dir} logged no validation metrics {list(COLUMNS)}')
    return {key: value for key, value in metrics.items() if '/' in key}


# ---------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------


def _cell(mean: float, std: float, digits: int) -> str:
    if math.isnan(std):
        return f'{mean:.{digits}f}'
    return f'{mean:.{digits}f} ± {std:.{digits}f}'


def _digits(key: str) -> int:
    return 4 if key == 'depth/rmse' else 2


def markdown_table(table: Mapping[str, Mapping[str, Tuple[float, float]]],
                   labels: Mapping[str, str], extra: Optional[Mapping[str, str]] = None) -> str:
    header = ['Method'] + [title for title, _ in COLUMNS.values()] + ['Δm [%]↑']
    if extra is not None:
        header.append('chosen on val')
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for name, row in table.items():
        cells = [labels[name]] + [_cell(*row[k], _digits(k)) for k in COLUMNS]
        cells.append(_cell(*row[DM], 2))
        if extra is not None:
            cells.append(extra.get(name, ''))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def per_seed_table(metrics: Mapping[str, Mapping[int, Mapping[str, float]]],
                   dms: Mapping[str, Mapping[int, float]], labels: Mapping[str, str]) -> str:
    header = ['Method', 'seed'] + [title for title, _ in COLUMNS.values()] + ['Δm [%]↑']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for name, seeds in metrics.items():
        for seed in sorted(seeds):
            cells = [labels[name], str(seed)]
            cells += [f'{seeds[seed][k]:.{_digits(k)}f}' for k in COLUMNS]
            cells.append(f'{dms[name][seed]:+.2f}')
            lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def study_figure(table: Mapping[str, Mapping[str, Tuple[float, float]]],
                 labels: Mapping[str, str], width_inches: float = 9.0):
    """One panel per metric (and Δm), a horizontal bar per method: mean, error bar = std.

    Method names are written in full once, on the shared left axis; the
    figure is ``width_inches`` wide at 100 dpi (900 pixels: a page's width, so
    the docs show it at its own size).
    """
    import numpy as np
    from matplotlib.figure import Figure
    keys = list(COLUMNS) + [DM]
    titles = [COLUMNS[k][0] for k in COLUMNS] + ['Δm [%]↑\nvs baseline']
    names = list(table)
    figure = Figure(figsize=(width_inches, 0.34 * len(names) + 1.4), dpi=100)
    axes = figure.subplots(1, len(keys), sharey=True)
    rows = np.arange(len(names))
    colours = [f'C{i % 10}' for i in range(len(names))]
    for axis, key, title in zip(axes, keys, titles):
        means = [table[n][key][0] for n in names]
        stds = [_nz(table[n][key][1]) for n in names]
        axis.barh(rows, means, xerr=stds, color=colours, height=0.7, capsize=2.5,
                  error_kw=dict(elinewidth=1))
        axis.axvline(0, color='black', linewidth=0.8)
        axis.set_title(title.replace('↑', ' ↑').replace('↓', ' ↓'), fontsize=10)
        axis.tick_params(axis='x', labelsize=8.5)
        axis.locator_params(axis='x', nbins=3)
        axis.grid(axis='x', alpha=0.3)
    axes[0].set_yticks(rows, [labels.get(n, n) for n in names], fontsize=10)
    axes[0].invert_yaxis()  # first method on top
    figure.tight_layout(w_pad=0.8)
    return figure


def plot(table: Mapping[str, Mapping[str, Tuple[float, float]]], labels: Mapping[str, str],
         path: str) -> None:
    """Write :func:`study_figure` as a PNG (bounding box tight: nothing is cut)."""
    study_figure(table, labels).savefig(path, bbox_inches='tight', pad_inches=0.05)


def read_summary_csv(path: str, split: str = 'test'
                     ) -> Dict[str, Dict[str, Tuple[float, float]]]:
    """``{method: {metric key or 'delta_m': (mean, std)}}`` of ``split`` in a ``summary.csv``."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'kd_study: {path} does not exist (the study writes it)')
    rows: Dict[str, Dict[str, Dict[str, float]]] = {}
    with open(path, newline='') as handle:
        for row in csv.DictReader(handle):
            if row['split'] == split and row['seed'] in ('mean', 'std'):
                stats = rows.setdefault(row['method'], {})
                stats[row['seed']] = {key: float(row[key]) for key in list(COLUMNS) + [DM]}
    table = {}
    for method, stats in rows.items():
        if set(stats) != {'mean', 'std'}:
            raise ValueError(f'kd_study: {path} has no {split} mean and std rows of {method!r}')
        table[method] = {key: (stats['mean'][key], stats['std'][key])
                         for key in list(COLUMNS) + [DM]}
    if not table:
        raise ValueError(f'kd_study: {path} has no {split} mean / std rows')
    return table


def _nz(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def report(study: Study, runs: Mapping[str, Mapping[int, dict]], wall: float,
           command: str) -> str:
    methods = study.methods
    labels = {n: m.label for n, m in methods.items()}
    test = {n: {s: r['test'] for s, r in seeds.items()} for n, seeds in runs.items()}
    val = {n: {s: r['val'] for s, r in seeds.items()} for n, seeds in runs.items()}
    test_table, val_table = aggregate(test), aggregate(val)
    test_dm = per_seed_delta_m(test)
    main = [n for n, m in methods.items() if n in runs and not _is_sweep(n)]
    sweep = [n for n, m in methods.items() if m.family is not None]
    chosen = {}
    for family in FAMILIES:
        if any(methods[n].family == family for n in sweep):
            chosen[family] = choose_on_val({n: val_table[n][DM] for n in sweep}, methods, family)
    lines = ['# KD study on synthetic NYUD-v2-layout data', '',
             f'Command: `{command}`', '',
             f'Wall time: {wall / 60:.1f} min for this invocation; sum of run times '
             f'{sum(r["seconds"] for seeds in runs.values() for r in seeds.values()) / 60:.1f}'
             ' min (runs finished earlier are counted with their own time).', '',
             f'Seeds: {", ".join(map(str, study.args.seeds))}; one teacher per seed. Data: '
             f'{study.args.difficulty} synthetic NYUD, {study.counts[0]} train / '
             f'{study.counts[1]} val / {study.counts[2]} test images of '
             f'{study.size[0]}x{study.size[1]}, data seed {study.args.data_seed}. Every run: '
             f'{study.args.iters} iterations (the teacher {study.args.teacher_iters}), batch '
             f'{study.batch}.', '',
             '## Test split (mean ± sample std over seeds)', '',
             'Δm of a run is against the student baseline of the same seed.', '',
             markdown_table({n: test_table[n] for n in main}, labels)]
    if sweep:
        extra = {name: 'yes' for name in chosen.values()}
        lines += ['', '## Sweeps: paper Table 5 (τ and β), DIST\'s depth weight', '',
                  'Chosen on the val split (highest mean val Δm within plain KD, KDAM and '
                  'DIST); the table shows the **test** numbers of every setting.', '',
                  markdown_table({n: test_table[n] for n in sweep}, labels, extra), '',
                  'Validation Δm [%] (the numbers the choice is made on): ' + ', '.join(
                      f'{labels[n]} {_cell(*val_table[n][DM], 2)}' for n in sweep)]
        for family, name in chosen.items():
            lines.append(f'\nChosen for {FAMILIES[family]}: '
                         f'{labels[name]} (test Δm {_cell(*test_table[name][DM], 2)}).')
    pairs = comparison_pairs(methods, list(runs))
    if pairs and len(study.args.seeds) > 1:
        lines += ['', '## Paired differences (test split)', '',
                  'Per seed, a method minus the method it is compared with (same seed: same '
                  'data order, initialisation and teacher); mean over seeds and its 95 % '
                  "interval (Student's t). An interval that holds 0 finds no difference. "
                  'Lower is better for depth rmse and normal error.', '',
                  paired_table(test, pairs, labels)]
    lines += ['', '## Per seed (test split)', '', per_seed_table(test, test_dm, labels), '']
    return '\n'.join(lines)


def _is_sweep(name: str) -> bool:
    return '_tau' in name or '_beta' in name or '_depth' in name


def write_outputs(study: Study, runs: Mapping[str, Mapping[int, dict]], wall: float,
                  command: str) -> str:
    text = report(study, runs, wall, command)
    with open(osp.join(study.out, 'summary.md'), 'w') as handle:
        handle.write(text)
    rows = []
    for split in ('test', 'val'):
        metrics = {n: {s: r[split] for s, r in seeds.items()} for n, seeds in runs.items()}
        table, dms = aggregate(metrics), per_seed_delta_m(metrics)
        for name, seeds in metrics.items():
            for stat, index in (('mean', 0), ('std', 1)):
                rows.append([split, name, stat] + [table[name][k][index] for k in COLUMNS] +
                            [table[name][DM][index]])
            for seed in sorted(seeds):
                rows.append([split, name, seed] + [seeds[seed][k] for k in COLUMNS] +
                            [dms[name][seed]])
    with open(osp.join(study.out, 'summary.csv'), 'w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(['split', 'method', 'seed'] + list(COLUMNS) + [DM])
        writer.writerows(rows)
    test = {n: {s: r['test'] for s, r in seeds.items()} for n, seeds in runs.items()}
    table = aggregate(test)
    main = {n: table[n] for n in runs if not _is_sweep(n)}
    plot(main, {n: m.label for n, m in study.methods.items()},
         osp.join(study.out, 'summary.png'))
    return text


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.list:
        for name, method in study_methods(args.quick).items():
            print(f'{name:14s} {method.label}')
        return
    if args.plot_only:
        table = read_summary_csv(osp.join(args.out, 'summary.csv'))
        labels = {n: m.label for n, m in study_methods(False).items()}
        plot({n: row for n, row in table.items() if not _is_sweep(n)}, labels,
             osp.join(args.out, 'summary.png'))
        print(f'kd_study: wrote {osp.join(args.out, "summary.png")}')
        return
    start = time.time()
    study = Study(args)
    runs = study.run()
    command = 'python tools/analysis_tools/kd_study.py ' + ' '.join(
        argv if argv is not None else sys.argv[1:])
    text = write_outputs(study, runs, time.time() - start, command)
    print(text)
    print(f'kd_study: wrote {osp.join(study.out, "summary.md")}, summary.csv, summary.png')


if __name__ == '__main__':
    main()
