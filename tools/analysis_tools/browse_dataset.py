"""Write one picture per sample: the image and every task's ground truth.

Example::

    python tools/analysis_tools/browse_dataset.py \
        configs/_base_/datasets/synthetic_nyud.py --output-dir work_dirs/browse

Each task's ground truth is drawn as its task kind draws it (as in the
visualiser): label maps with the dataset palette (ignored pixels black),
edges and saliency as a heat map (ignored pixels grey), depth with the turbo
colour map (invalid pixels black), normals as RGB = (n + 1) / 2 (invalid
black). Panels show what the model gets after the pipeline (augmented for
``--phase train``).
"""
import argparse
import os
import os.path as osp
from typing import Dict, List, Optional

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from mmmtl.registry import DATASETS
from mmmtl.tasks import get_task_spec
from mmmtl.utils import register_all_modules
from mmmtl.visualization.multitask_visualizer import task_palette


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Browse a multi-task dataset')
    parser.add_argument('config', help='config file with train/val dataloaders')
    parser.add_argument('--output-dir', required=True, help='folder for the pictures')
    parser.add_argument('--phase', choices=('train', 'val', 'test'), default='train',
                        help='which dataloader to browse')
    parser.add_argument('--max-samples', type=int, default=None,
                        help='stop after this many samples')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args()


def _labelled(panel: np.ndarray, title: str) -> np.ndarray:
    bar = np.full((14, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, title, (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1,
                cv2.LINE_AA)
    return np.concatenate([bar, panel], axis=0)


def render_sample(image: np.ndarray, gts: Dict[str, np.ndarray], meta: dict) -> np.ndarray:
    """Panels side by side: the BGR image then one panel per task.

    Args:
        image: (H, W, 3) uint8 BGR.
        gts: task name -> packed (C, H, W) ground truth.
        meta: dataset meta (``palette``, ``part_palette``).
    """
    panels: List[np.ndarray] = [_labelled(image, 'image')]
    for task, gt in gts.items():
        kind = get_task_spec(task).task_kind
        rgb = kind.colorize(gt, True, task_palette(task, meta), kind.color_range(gt))
        panels.append(_labelled(np.ascontiguousarray(rgb[..., ::-1]), task))
    return np.concatenate(panels, axis=1)


def sample_to_numpy(data: dict) -> tuple:
    """Packed sample -> (BGR image, task -> (C, H, W) numpy gt)."""
    image = data['inputs'].numpy().transpose(1, 2, 0)
    image = np.ascontiguousarray(image.clip(0, 255).astype(np.uint8))
    sample = data['data_samples']
    gts = {}
    for task in sample.metainfo.get('tasks', []):
        key = get_task_spec(task).gt_key
        if key in sample:
            gts[task] = getattr(sample, key).data.numpy()
    return image, gts


def main(args: Optional[argparse.Namespace] = None) -> None:
    """Run the tool; ``args`` defaults to the parsed command line."""
    args = parse_args() if args is None else args
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmmtl'))
    dataset = DATASETS.build(cfg[f'{args.phase}_dataloader']['dataset'])
    os.makedirs(args.output_dir, exist_ok=True)
    count = len(dataset) if args.max_samples is None else min(args.max_samples, len(dataset))
    for index in range(count):
        image, gts = sample_to_numpy(dataset[index])
        picture = render_sample(image, gts, dataset.metainfo)
        name = dataset.get_data_info(index).get('sample_id', f'{index:06d}')
        path = osp.join(args.output_dir, f'{name}.png')
        if not cv2.imwrite(path, picture):
            raise OSError(f'could not write {path}')
    print(f'wrote {count} pictures to {args.output_dir}')


if __name__ == '__main__':
    main()
