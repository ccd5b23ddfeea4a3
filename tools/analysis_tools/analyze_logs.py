"""Plot loss / metric curves of one or more runs to a PNG.

Reads mmengine's scalar logs: ``<work_dir>/<timestamp>/vis_data/scalars.json``
(one JSON dict per line; training lines have ``iter``, validation lines
``step`` and metric keys), or a work dir / timestamp dir that contains one.

Example:
    python tools/analysis_tools/analyze_logs.py work_dirs/demo/student work_dirs/demo/kdam \
        --keys loss semseg/mIoU --legend baseline KDAM --out work_dirs/demo/curves.png
"""
import argparse
import glob
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Plot curves from mmengine scalar logs')
    parser.add_argument('logs', nargs='+', help='scalars.json files or work dirs')
    parser.add_argument('--keys', nargs='+', default=['loss'], help='keys to plot')
    parser.add_argument('--legend', nargs='+', help='one name per log (default: paths)')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--title', default=None)
    return parser.parse_args()


def find_scalars(path: str) -> str:
    """The newest scalars.json under ``path`` (or ``path`` itself)."""
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise FileNotFoundError(f'log {path} is neither a file nor a directory')
    for pattern in ('scalars.json', '*.json'):  # mmengine also writes <timestamp>.json
        found = sorted(glob.glob(osp.join(path, '**', 'vis_data', pattern), recursive=True))
        if found:
            return found[-1]
    raise FileNotFoundError(f'no vis_data/scalars.json under {path}')


def load_curves(path: str, keys: List[str]) -> Dict[str, Tuple[List[float], List[float]]]:
    """``{key: (steps, values)}`` of ``keys`` in one scalars.json."""
    curves = {key: ([], []) for key in keys}
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f'{path}:{line_no}: not JSON ({error})') from None
            step = record.get('iter', record.get('step'))
            for key in keys:
                if key in record and step is not None:
                    curves[key][0].append(step)
                    try:
                        curves[key][1].append(float(record[key]))
                    except (TypeError, ValueError):
                        raise ValueError(f'{path}:{line_no}: {key}={record[key]!r} is not a '
                                         'number') from None
    return curves


def main() -> None:
    args = parse_args()
    legends = args.legend or args.logs
    if len(legends) != len(args.logs):
        raise ValueError(f'{len(args.logs)} logs but {len(legends)} legend names')
    figure, axes = plt.subplots(1, len(args.keys), figsize=(5 * len(args.keys), 4),
                                squeeze=False)
    for log, name in zip(args.logs, legends):
        curves = load_curves(find_scalars(log), args.keys)
        for axis, key in zip(axes[0], args.keys):
            steps, values = curves[key]
            if not steps:
                raise KeyError(f'{log}: no value of {key!r} in the log')
            axis.plot(steps, values, marker='o' if len(steps) < 20 else None, label=name)
            axis.set_title(key)
            axis.set_xlabel('iteration')
            axis.legend()
    if args.title:
        figure.suptitle(args.title)
    figure.tight_layout()
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    figure.savefig(args.out, dpi=100)
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
