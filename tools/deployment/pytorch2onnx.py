"""Export a multi-task model (or the student of a KDAM config) to ONNX.

The graph's input ``input`` is (N, 3, H, W) float32, already normalised as
the model's data preprocessor does (mean / std, RGB order); it has one output
per task, named after the task, holding the task's logits at the input size.

Example:
    python tools/deployment/pytorch2onnx.py configs/synthetic/mtl_student_synthetic_nyud.py \
        --shape 96 128 --out student.onnx --verify
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

import numpy as np
import torch
from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmmtl.apis import init_model  # noqa: E402
from mmmtl.deployment import (  # noqa: E402
    DEFAULT_OPSET,
    ONNXExportError,
    allowed_difference,
    compare_with_pytorch,
    export_onnx,
)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a multi-task model to ONNX')
    parser.add_argument('config', help='config file (a KDAM config exports its student)')
    parser.add_argument('--checkpoint', help='checkpoint file (default: untrained weights)')
    parser.add_argument('--shape', type=int, nargs=2, required=True, metavar=('H', 'W'),
                        help='input height and width')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument('--batch', type=int, default=1, help='batch size of the traced input')
    parser.add_argument('--dynamic', action='store_true',
                        help='dynamic batch, height and width (checked at another shape; '
                        'refused for models whose shapes tracing freezes, e.g. Swin)')
    parser.add_argument('--verify', action='store_true',
                        help='compare onnxruntime with PyTorch on random input, print the '
                        'largest difference per task, fail above 1e-4 + 1e-3 * max|logits|')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET, help='ONNX opset version')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config (key=value)')
    args = parser.parse_args(argv)
    if min(args.shape) < 1 or args.batch < 1:
        parser.error('--shape and --batch must be positive')
    return args


def verify(model: torch.nn.Module, onnx_file: str, shape: List[int], batch: int) -> bool:
    """Print the largest |onnxruntime - PyTorch| per task; True if all are close."""
    inputs = torch.randn(batch, 3, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = model.forward_tasks(inputs)
    diffs = compare_with_pytorch(model, onnx_file, inputs, reference)
    ok = True
    for task, diff in diffs.items():
        bound = allowed_difference(reference[task])
        ok &= diff <= bound
        label = 'ok' if diff <= bound else 'TOO LARGE'
        print(f'  {task:12s} max |onnxruntime - pytorch| = {diff:.3e} ({label}, bound {bound:.1e})')
    return ok


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    model = init_model(args.config, args.checkpoint, device='cpu', cfg_options=args.cfg_options)
    if args.checkpoint is None:
        print('No --checkpoint: exporting untrained weights.')
    divisor = getattr(model.data_preprocessor, 'size_divisor', None) or 1
    if args.shape[0] % divisor or args.shape[1] % divisor:
        padded = [int(np.ceil(size / divisor)) * divisor for size in args.shape]
        print(f'Note: the data preprocessor pads images to multiples of {divisor} '
              f'(e.g. {padded[0]}x{padded[1]}); feed the graph inputs of that size to '
              'match tools/test.py.')
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    try:
        outputs = export_onnx(model, args.out, args.shape, batch_size=args.batch,
                              dynamic=args.dynamic, opset=args.opset)
    except ONNXExportError as error:
        raise SystemExit(f'Export failed: {error}') from None
    size_mb = osp.getsize(args.out) / 2**20
    print(f'Saved {args.out} ({size_mb:.1f} MB): input "input" ({args.batch}, 3, '
          f'{args.shape[0]}, {args.shape[1]}){" dynamic" if args.dynamic else ""}, outputs '
          f'{outputs}')
    if args.verify:
        print(f'Verify at ({args.batch}, 3, {args.shape[0]}, {args.shape[1]}):')
        if not verify(model, args.out, args.shape, args.batch):
            raise SystemExit('onnxruntime and PyTorch disagree (see above).')

if __name__ == '__main__':
    main()
