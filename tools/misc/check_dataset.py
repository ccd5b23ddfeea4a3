"""Check a downloaded NYUD-v2 / PASCAL-Context tree before a long run.

Every entry of every split must have every task's file, readable, of the
image's size, with values in range (labels < classes or 255, depth finite and
>= 0, normals in [-1, 1], boundary / saliency 0/1/255). The files are read
with the same readers as training, so what passes here loads in a run.

Example:
    python tools/misc/check_dataset.py data/nyud --layout nyud
    python tools/misc/check_dataset.py data/pascal_context --layout pascal --splits val

Prints one line per split (samples, problems, per-task value summary) and the
first problems; exits with status 1 if any sample has a problem.
"""
import argparse
import os.path as osp
import sys
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

LAYOUTS = dict(
    nyud=('NYUDv2MTLDataset', dict(layout='auto')),
    nyudv2=('NYUDv2MTLDataset', dict(layout='nyudv2')),
    nyud_mt=('NYUDv2MTLDataset', dict(layout='nyud_mt')),
    pascal=('PascalContextMTLDataset', dict()),
)


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
    return parser.parse_args(argv)


class TaskSummary:
    """Running value summary of one task over the checked samples."""

    def __init__(self) -> None:
        self.minimum = np.inf
        self.maximum = -np.inf
        self.valid = 0
        self.total = 0

    def add(self, values: np.ndarray, valid: np.ndarray) -> None:
        self.total += valid.size
        self.valid += int(valid.sum())
        if valid.any():
            self.minimum = min(self.minimum, float(values[valid].min()))
            self.maximum = max(self.maximum, float(values[valid].max()))

    def __str__(self) -> str:
        share = 100 * self.valid / max(self.total, 1)
        if not self.valid:
            return 'no valid pixel'
        return f'[{self.minimum:.3g}, {self.maximum:.3g}] on {share:.1f}% valid px'


def check_values(task: str, gt: np.ndarray, num_classes: Optional[int]) -> List[str]:
    """Problems of one task's (H, W) / (H, W, 3) ground truth (empty if none)."""
    from mmmtl.tasks import get_task_spec
    if not np.isfinite(gt).all():
        return [f'{task}: NaN or inf values']
    problem = get_task_spec(task).task_kind.check_gt(gt, num_classes)
    return [] if problem is None else [f'{task}: {problem}']


def valid_mask(task: str, gt: np.ndarray) -> np.ndarray:
    """(H, W) bool mask of the valid pixels of an (H, W) / (H, W, C) ground truth."""
    from mmmtl.tasks import get_aligned_field, get_task_spec
    spec = get_task_spec(task)
    packed = get_aligned_field(spec.gt_key).to_tensor(gt)
    return spec.task_kind.valid_mask(packed[None])[0].numpy()


def check_split(root: str, layout: str, split: str, max_samples: Optional[int]) -> dict:
    """Check one split; returns ``dict(samples, problems, summaries)``."""
    from mmmtl.registry import DATASETS, TRANSFORMS
    from mmmtl.tasks import get_task_spec
    dataset_type, extra = LAYOUTS[layout]
    dataset = DATASETS.build(dict(type=dataset_type, data_root=root, split=split,
                                  check_files=False, lazy_init=False, **extra))
    num_classes = dataset.metainfo.get('num_classes', {})
    load_image = TRANSFORMS.build(dict(type='LoadImageFromFile'))
    load_annotations = TRANSFORMS.build(dict(type='LoadMultiTaskAnnotations'))
    problems: List[str] = []
    summaries: Dict[str, TaskSummary] = defaultdict(TaskSummary)
    count = len(dataset) if max_samples is None else min(len(dataset), max_samples)
    for index in range(count):
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
            found = check_values(task, gt, num_classes.get(task))
            problems += [f'{sample}: {problem}' for problem in found]
            if not found:
                summaries[task].add(gt if gt.ndim == 2 else np.linalg.norm(gt, axis=2),
                                    valid_mask(task, gt))
    return dict(samples=count, problems=problems, summaries=dict(summaries),
                tasks=list(dataset.tasks))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from mmmtl.utils import register_all_modules
    register_all_modules()
    failed = False
    for split in args.splits:
        try:
            report = check_split(args.root, args.layout, split, args.max_samples)
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
