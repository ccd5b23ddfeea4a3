"""Predict every task of a multi-task model (or a KDAM student) on an image.

Writes ``<out-dir>/vis/<name>.png`` (the image, then every task's prediction
with its key: semseg / human parts blended over the image (``--opacity``)
with a legend of the classes present, depth with a colour bar in metres,
normals with a sphere in their colours, edge / saliency with a probability
bar) and ``<out-dir>/pred/<task>/<name>.png`` per task (label PNG, 16-bit
depth PNG in millimetres plus ``.npy`` in metres, normals as RGB, edge /
saliency probabilities as 8-bit PNG).

Example (after ``make demo``, which writes the synthetic images and trains the student):
    python demo/image_demo.py data/synthetic_nyud/images/val_00000.png \
        configs/synthetic/kdam_student_synthetic_nyud.py work_dirs/demo/kdam/iter_600.pth \
        --out-dir outputs
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmmtl.apis import MultiTaskInferencer  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Multi-task image demo')
    parser.add_argument('img', help='image file or folder of images')
    parser.add_argument('config', help='config file (a KDAM config gives its student)')
    parser.add_argument('checkpoint', help='checkpoint file (distillation or student)')
    parser.add_argument('--out-dir', default='outputs', help='output folder')
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument('--tile-height', type=int, default=None,
                        help='height of each painted tile (default: the visualizer\'s)')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the label maps over the image, in [0, 1]')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    inferencer = MultiTaskInferencer(args.config, args.checkpoint, device=args.device)
    if args.tile_height is not None:
        inferencer.visualizer.tile_height = args.tile_height
    results = inferencer(args.img, out_dir=args.out_dir, opacity=args.opacity)
    count = 1 if isinstance(results['predictions'], dict) else len(results['predictions'])
    print(f'{count} image(s): painted pictures in {osp.join(args.out_dir, "vis")}, per-task '
          f'files in {osp.join(args.out_dir, "pred")}/<task> for the tasks '
          f'{", ".join(inferencer.model.tasks)}')


if __name__ == '__main__':
    main()
