"""Compare a converted model with the authors' outputs stored by make_converter_fixtures.py.

Prints, per output ('final', and InvPT's initial predictions 'inter') and task,
max |mmmtl - authors| at the input size (the authors' logits resized bilinearly,
as their models do) and max |authors|.

Example:
    python tools/model_converters/compare_with_reference.py \
        configs/synthetic/invpt_tiny_released_synthetic_nyud.py work_dirs/invpt_tiny.pth \
        tests/fixtures/converters/invpt_tiny_nyud_reference.pth --tolerance 1e-5
"""
import argparse
import sys
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import DictAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config of the converted model')
    parser.add_argument('checkpoint', help='converted checkpoint')
    parser.add_argument('reference', help='<family>_<size>_nyud_reference.pth')
    parser.add_argument('--tolerance', type=float, default=None,
                        help='exit with status 1 if a difference exceeds it')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides of the config (key=value)')
    return parser.parse_args()


def max_differences(model: nn.Module, reference: dict) -> Dict[str, Dict[str, float]]:
    """``{'final' / 'inter': {task: max |mmmtl - authors|}}`` on ``reference['input']``."""
    image = reference['input']
    with torch.no_grad():
        final, aux = model.forward_tasks_with_aux(image)
    ours = dict(final=final, inter=aux.get('inter', {}))
    return {
        kind: {task: (ours[kind][task] - F.interpolate(
            expected, size=image.shape[2:], mode='bilinear', align_corners=False)
                      ).abs().max().item() for task, expected in reference[kind].items()}
        for kind in ('final', 'inter') if reference[kind]
    }


def main() -> None:
    args = parse_args()
    from mmmtl.apis import init_model
    model = init_model(args.config, args.checkpoint, cfg_options=args.cfg_options)
    reference = torch.load(args.reference, map_location='cpu', weights_only=True)
    worst = 0.
    for kind, per_task in max_differences(model, reference).items():
        for task, difference in per_task.items():
            scale = reference[kind][task].abs().max().item()
            print(f'{kind:6s} {task:12s} max |difference| {difference:.2e}   max |authors| '
                  f'{scale:.3g}')
            worst = max(worst, difference)
    if args.tolerance is not None and worst > args.tolerance:
        print(f'largest difference {worst:.2e} > tolerance {args.tolerance:g}')
        sys.exit(1)


if __name__ == '__main__':
    main()
