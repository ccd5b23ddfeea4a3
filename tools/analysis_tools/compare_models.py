"""Paint several trained models side by side on the same validation images.

One block per image: a row per task, with the image, the ground truth, each
model's prediction and the task's key (semseg blended over the image with
``--opacity`` and a legend of the classes present, a depth colour bar in
metres, the normals sphere, a probability bar). ``make demo`` uses it to
compare the teacher, the student baseline and the KDAM student.

Example:
    python tools/analysis_tools/compare_models.py \\
        --model teacher configs/synthetic/mtl_teacher_synthetic_nyud.py \\
            work_dirs/demo/teacher/iter_600.pth \\
        --model KDAM configs/synthetic/mtl_student_synthetic_nyud.py \\
            work_dirs/demo/kdam/kdam_student.pth \\
        --data-root data/synthetic_nyud --num-images 3 --out work_dirs/demo/comparison.png
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

import mmcv
import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', nargs=3, action='append', required=True,
                        metavar=('NAME', 'CONFIG', 'CHECKPOINT'),
                        help='a model to compare (repeat the option; KDAM configs give the '
                        'student)')
    parser.add_argument('--data-config', help='config whose test dataset gives the images '
                        'and ground truth (default: the first model\'s)')
    parser.add_argument('--data-root', help='override the dataset\'s data_root')
    parser.add_argument('--num-images', type=int, default=3)
    parser.add_argument('--tile-height', type=int, default=120)
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='opacity of the label maps over the image, in [0, 1]')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', required=True, help='output PNG')
    return parser.parse_args(argv)


def comparison_picture(models: List[Sequence[str]], data_config: str, data_root: Optional[str],
                       num_images: int, tile_height: int, device: str = 'cpu',
                       opacity: float = 0.5) -> np.ndarray:
    """(H, W, 3) RGB picture of ``models`` = [(name, config, checkpoint), ...]."""
    from mmengine.config import Config

    from mmmtl.apis import inference_model, init_model
    from mmmtl.registry import DATASETS
    from mmmtl.visualization import MultiTaskVisualizer
    from mmmtl.visualization.multitask_visualizer import stack_rows

    cfg = Config.fromfile(data_config)
    dataset_cfg = cfg.test_dataloader.dataset
    if data_root is not None:
        dataset_cfg.data_root = data_root
    dataset = DATASETS.build(dataset_cfg)
    indices = np.linspace(0, len(dataset) - 1, min(num_images, len(dataset))).round()
    samples = [dataset[int(index)]['data_samples'] for index in indices]
    paths = [sample.img_path for sample in samples]
    loaded = {name: init_model(config, checkpoint, device=device)
              for name, config, checkpoint in models}
    predictions = {name: inference_model(model, paths) for name, model in loaded.items()}
    visualizer = MultiTaskVisualizer(name=f'compare_models_{os.getpid()}',
                                     tile_height=tile_height, alpha=opacity)
    visualizer.dataset_meta = dict(dataset.metainfo)
    blocks = []
    for index, (sample, path) in enumerate(zip(samples, paths)):
        image = mmcv.imread(path, channel_order='rgb')
        block = visualizer.draw_comparison(
            image, sample, {name: preds[index] for name, preds in predictions.items()})
        blocks.append(block)
        blocks.append(np.full((4, block.shape[1], 3), 255, dtype=np.uint8))
    return stack_rows(blocks[:-1])  # blocks whose keys differ in width


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    from mmmtl.utils import register_all_modules
    register_all_modules()
    picture = comparison_picture(args.model, args.data_config or args.model[0][1],
                                 args.data_root, args.num_images, args.tile_height, args.device,
                                 args.opacity)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    mmcv.imwrite(picture[..., ::-1], args.out)
    print(f'wrote {args.out} ({picture.shape[1]}x{picture.shape[0]})')


if __name__ == '__main__':
    main()
