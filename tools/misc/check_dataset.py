"""Check a downloaded NYUD-v2 / PASCAL-Context tree before a long run.

Every entry of every split must have every task's file, readable, of the
image's size, with the values the loaders give in range: labels < classes or
255, depth finite and 0 (invalid) or within ``--depth-range``, normals unit
vectors (within ``--normal-tolerance``) or the ignore vector (0, 0, 0),
boundary / saliency 0/1/255. The files are read with the same readers as
training, so what passes here loads in a run and trains on sane targets.

Example:
    python tools/misc/check_dataset.py data/nyud --layout nyud
    python tools/misc/check_dataset.py data/pascal_context --layout pascal --splits val

Prints one line per split (samples, problems, per task the value summary and
the number of bad pixels and samples) and the first problems; exits with
status 1 if any sample has a problem. Splits of more than ``--progress-above``
samples show a progress bar (on stderr).
"""
import argparse
import os.path as osp
import sys
from collections import defaultdict
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

if TYPE_CHECKING:
    from mmmtl.tasks import GTLimits

LAYOUTS = dict(
    nyud=('NYUDv2MTLDataset', dict(layout='auto')),
    nyudv2=('NYUDv2MTLDataset', dict(layout='nyudv2')),
    nyud_mt=('NYUDv2MTLDataset', dict(layout='nyud_mt')),
    pascal=('PascalContextMTLDataset', dict()),
)
DEPTH_RANGE = (0.0, 20.0)  # metres; NYUD-v2's Kinect depth stays below ~10 m
NORMAL_TOLERANCE = 0.1  # | |n| - 1 | of a valid normal (8-bit PNGs: < 0.01)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='dataset root (the data_root of the configs)')
    parser.add_argument('--layout', required=True, choices=sorted(LAYOUTS),
                        help='nyud (auto-detect NYUDv2 / NYUD_MT), nyudv2, nyud_mt or pascal')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'])
    parser.add_argument('--max-samples', type=int, default=None,
                        help='check only the first N samples of each split')
    parser.add_argument('--max-problems', type=int, default=20,
                        help='problems printed per split')
    parser.add_argument('--depth-range', type=float, nargs=2, default=DEPTH_RANGE,
                        metavar=('MIN', 'MAX'),
                        help='plausible depth in metres; 0 marks invalid pixels (default: '
                        '%(default)s)')
    parser.add_argument('--normal-tolerance', type=float, default=NORMAL_TOLERANCE,
                        help='largest | |n| - 1 | of a valid normal; the zero vector is the '
                        'ignore marker (default: %(default)s)')
    parser.add_argument('--progress-above', type=int, default=200,
                        help='show a progress bar for splits with more samples')
    return parser.parse_args(argv)


class TaskSummary:
    """Running value summary of one task over the checked samples."""

    def __init__(self) -> None:
        self.minimum = np.inf
        self.maximum = -np.inf
        self.valid = 0
        self.total = 0
        self.bad_pixels = 0
        self.bad_samples = 0

    def add(self, values: np.ndarray, valid: np.ndarray) -> None:
        self.total += valid.size
        self.valid += int(valid.sum())
        if valid.any():
            self.minimum = min(self.minimum, float(values[valid].min()))
            self.maximum = max(self.maximum, float(values[valid].max()))

    def add_bad(self, pixels: int) -> None:
        self.bad_pixels += pixels
        self.bad_samples += 1

    def __str__(self) -> str:
        share = 100 * self.valid / max(self.total, 1)
        text = (f'[{self.minimum:.3g}, {self.maximum:.3g}] on {share:.1f}% valid px'
                if self.valid else 'no valid pixel')
        if self.bad_samples:
            text += f'; {self.bad_pixels} bad px in {self.bad_samples} samples'
        return text


def check_values(task: str, gt: np.ndarray, limits: 'GTLimits') -> Tuple[List[str], int]:
    """Problems of one task's (H, W) / (H, W, 3) ground truth as the loader gives it,
    and the number of bad pixels (``([], 0)`` if none)."""
    from mmmtl.tasks import get_task_spec
    finite = np.isfinite(gt) if gt.ndim == 2 else np.isfinite(gt).all(axis=-1)
    if not finite.all():
        return [f'{task}: {int((~finite).sum())} px NaN or inf'], int((~finite).sum())
    bad, what = get_task_spec(task).task_kind.bad_gt(gt, limits)
    if not bad.any():
        return [], 0
    count = int(bad.sum())
    return [f'{task}: {count} of {bad.size} px with {what}'], count


def valid_mask(task: str, gt: np.ndarray) -> np.ndarray:
    """(H, W) bool mask of the valid pixels of an (H, W) / (H, W, C) ground truth."""
    from mmmtl.tasks import get_aligned_field, get_task_spec
    spec = get_task_spec(task)
    packed = get_aligned_field(spec.gt_key).to_tensor(gt)
    return spec.task_kind.valid_mask(packed[None])[0].numpy()


def check_split(root: str, layout: str, split: str, max_samples: Optional[int],
                depth_range: Tuple[float, float] = DEPTH_RANGE,
                normal_tolerance: float = NORMAL_TOLERANCE,
                progress_above: Optional[int] = None) -> dict:
    """Check one split; returns ``dict(samples, problems, summaries)``.

    ``progress_above``: show a progress bar on stderr when the split has more
    samples than this (None: never).
    """
    from mmengine.utils import ProgressBar

    from mmmtl.registry import DATASETS, TRANSFORMS
    from mmmtl.tasks import GTLimits, get_task_spec
    dataset_type, extra = LAYOUTS[layout]
    dataset = DATASETS.build(dict(type=dataset_type, data_root=root, split=split,
                                  check_files=False, lazy_init=False, **extra))
    num_classes = dataset.metainfo.get('num_classes', {})
    load_image = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    load_annotations = TRANSFORMS.build(dict(type='LoadMultiTaskAnnotations'))
    problems: List[str] = []
    summaries: Dict[str, TaskSummary] = defaultdict(TaskSummary)
    count = len(dataset) if max_samples is None else min(len(dataset), max_samples)
    progress = (ProgressBar(count, file=sys.stderr)
                if progress_above is not None and count > progress_above else None)
    for index in range(count):
        if progress is not None:
            progress.update()
        info = dataset.get_data_info(index)
        sample = info['sample_id']
        missing = [f'{what} {path}' for what, path in dataset._files_of(info)
                   if not osp.isfile(path)]
        if missing:
            problems.append(f'{sample}: missing ' + ', '.join(missing))
            continue
        try:
            results = load_annotations(load_image(dict(info)))
        except Exception as error:  # report every unreadable sample, not only the first
            problems.append(f'{sample}: {type(error).__name__}: {error}')
            continue
        for task in dataset.tasks:
            gt = np.asarray(results[get_task_spec(task).gt_key])
            limits = GTLimits(num_classes.get(task), tuple(depth_range), normal_tolerance)
            found, bad_pixels = check_values(task, gt, limits)
            problems += [f'{sample}: {problem}' for problem in found]
            if found:
                summaries[task].add_bad(bad_pixels)
            else:
                summaries[task].add(gt if gt.ndim == 2 else np.linalg.norm(gt, axis=2),
                                    valid_mask(task, gt))
    if progress is not None:
        sys.stderr.write('\n')
    return dict(samples=count, problems=problems, summaries=dict(summaries),
                tasks=list(dataset.tasks))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from mmmtl.utils import register_all_modules
    register_all_modules()
    failed = False
    for split in args.splits:
        try:
            report = check_split(args.root, args.layout, split, args.max_samples,
                                 tuple(args.depth_range), args.normal_tolerance,
                                 args.progress_above)
        except (FileNotFoundError, ValueError, KeyError) as error:
            print(f'{split}: cannot read the split: {error}')
            failed = True
            continue
        problems = report['problems']
        failed |= bool(problems)
        print(f'{split}: {report["samples"]} samples, {len(problems)} problems')
        for task in report['tasks']:
            summary = report['summaries'].get(task)
            print(f'  {task:<12} {summary if summary else "nothing readable"}')
        for problem in problems[:args.max_problems]:
            print(f'  ! {problem}')
        if len(problems) > args.max_problems:
            print(f'  ! ... and {len(problems) - args.max_problems} more')
    print('FAILED: fix the problems above before training.' if failed else
          'OK: every sample of every split has every task, in range.')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
