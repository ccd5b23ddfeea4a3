"""Write one picture per sample: the image and every task's ground truth.

Example::

    python tools/analysis_tools/browse_dataset.py \
        configs/_base_/datasets/synthetic_nyud.py --output-dir work_dirs/browse

Label maps use the dataset palette (ignored pixels black), depth the turbo
colour map (invalid pixels black), normals RGB = (n + 1) / 2 (invalid black)
and edges are drawn in red over the image. Panels show what the model gets
after the pipeline (augmented for ``--phase train``).
"""
import argparse
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from mmmtl.registry import DATASETS
from mmmtl.tasks import IGNORE_INDEX
from mmmtl.utils import register_all_modules


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


def colour_labels(label: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """(H, W) labels -> (H, W, 3) BGR; 255 and unknown labels are black."""
    table = np.zeros((256, 3), dtype=np.uint8)
    table[:len(palette)] = np.asarray(palette, dtype=np.uint8)[:, ::-1]
    table[IGNORE_INDEX] = 0
    return table[label.astype(np.uint8)]


def colour_depth(depth: np.ndarray) -> np.ndarray:
    """(H, W) metres -> turbo BGR, scaled over the valid range; 0 is black."""
    valid = depth > 0
    if not valid.any():
        return np.zeros(depth.shape + (3, ), np.uint8)
    low, high = depth[valid].min(), depth[valid].max()
    scaled = np.zeros(depth.shape, np.uint8)
    scaled[valid] = np.round(255 * (depth[valid] - low) / max(high - low, 1e-6))
    image = cv2.applyColorMap(scaled, cv2.COLORMAP_TURBO)
    image[~valid] = 0
    return image


def colour_normals(normal: np.ndarray) -> np.ndarray:
    """(H, W, 3) unit normals -> BGR with RGB = (n + 1) / 2; zero vector black."""
    rgb = np.round((normal + 1) * 127.5).clip(0, 255).astype(np.uint8)
    rgb[np.linalg.norm(normal, axis=-1) == 0] = 0
    return rgb[..., ::-1]


def overlay_edges(image: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """Draw edge pixels (value 1) red on a BGR image; ignored pixels grey."""
    out = image.copy()
    out[edge == 1] = (0, 0, 255)
    out[edge == IGNORE_INDEX] = (128, 128, 128)
    return out


def _labelled(panel: np.ndarray, title: str) -> np.ndarray:
    bar = np.full((14, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, title, (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1,
                cv2.LINE_AA)
    return np.concatenate([bar, panel], axis=0)


def render_sample(image: np.ndarray, gts: Dict[str, np.ndarray], meta: dict) -> np.ndarray:
    """Panels side by side: the BGR image then one panel per task.

    Args:
        image: (H, W, 3) uint8 BGR.
        gts: task name -> map in the pipeline format (see architecture.md).
        meta: dataset meta (``palette``, ``part_palette``).
    """
    panels: List[np.ndarray] = [_labelled(image, 'image')]
    for task, gt in gts.items():
        if task == 'semseg':
            panel = colour_labels(gt, meta['palette'])
        elif task == 'human_parts':
            panel = colour_labels(gt, meta.get('part_palette', meta['palette']))
        elif task == 'saliency':
            panel = colour_labels(gt, [(0, 0, 0), (255, 255, 255)])
            panel[gt == IGNORE_INDEX] = (128, 128, 128)
        elif task == 'depth':
            panel = colour_depth(gt)
        elif task == 'normal':
            panel = colour_normals(gt)
        elif task == 'edge':
            panel = overlay_edges(image, gt)
        else:
            raise KeyError(f'no drawing for task {task!r}')
        panels.append(_labelled(panel, task))
    return np.concatenate(panels, axis=1)


def sample_to_numpy(data: dict) -> tuple:
    """Packed sample -> (BGR image, task -> numpy gt in pipeline layout)."""
    from mmmtl.tasks import TASK_SPECS
    image = data['inputs'].numpy().transpose(1, 2, 0)
    image = np.ascontiguousarray(image.clip(0, 255).astype(np.uint8))
    sample = data['data_samples']
    gts = {}
    for task in sample.metainfo.get('tasks', []):
        spec = TASK_SPECS[task]
        if spec.gt_key not in sample:
            continue
        array = getattr(sample, spec.gt_key).data.numpy()
        gts[task] = array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)
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
