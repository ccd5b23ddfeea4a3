"""Confusion matrices of the label tasks (semseg, human parts), as pictures.

Reads the predictions that ``tools/test.py --out PRED_DIR`` exports
(``PRED_DIR/<task>/<image name>.png``, one class index per pixel), compares
them with the ground truth of the config's test set and writes, per label
task, ``SAVE_DIR/confusion_matrix_<task>.png`` (rows: ground truth, columns:
prediction, each row normalised to 100 %, as mmseg's tool) and
``confusion_matrix_<task>.npy`` (the pixel counts). Ignored pixels (255) are
left out; the printed mIoU is that of the counts (the metric's convention).

Example:
    python tools/test.py configs/synthetic/mtl_student_synthetic_nyud.py \\
        work_dirs/mtl_student_synthetic_nyud/iter_600.pth --out work_dirs/preds
    python tools/analysis_tools/confusion_matrix.py \\
        configs/synthetic/mtl_student_synthetic_nyud.py work_dirs/preds work_dirs/confusion
"""
import argparse
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from mmmtl.evaluation.functional import miou_from_confusion, semseg_confusion
from mmmtl.registry import DATASETS
from mmmtl.tasks import get_task_spec
from mmmtl.utils import IGNORE_INDEX, register_all_modules
from mmmtl.utils.config_path import check_config_path

# dataset metainfo key of each label task's class names
CLASS_NAME_KEYS = dict(semseg='classes', human_parts='part_classes')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Confusion matrices of the label tasks from exported predictions')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('prediction_path', help='the --out folder of tools/test.py')
    parser.add_argument('save_dir', help='folder for the matrices (pictures and counts)')
    parser.add_argument('--tasks', nargs='+', help='label tasks (default: all of the data)')
    parser.add_argument('--show', action='store_true', help='show the pictures')
    parser.add_argument('--color-theme', default='OrRd', help='matplotlib colour map')
    parser.add_argument('--title', default='Normalized Confusion Matrix',
                        help='title of the pictures (the task is appended)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    return parser.parse_args(argv)


def label_tasks(dataset, wanted: Optional[Sequence[str]]) -> List[str]:
    """The label tasks of ``dataset`` (those in ``wanted`` if given)."""
    tasks = [task for task in dataset.tasks if get_task_spec(task).kind == 'label']
    for task in wanted or ():
        if task not in tasks:
            raise ValueError(f'--tasks {task!r}: not a label task of the test data; its label '
                             f'tasks are {tasks}.')
    return list(wanted) if wanted else tasks


def class_names(dataset, task: str, num_classes: int) -> List[str]:
    names = dataset.metainfo.get(CLASS_NAME_KEYS.get(task, ''))
    return list(names) if names and len(names) == num_classes else [
        str(index) for index in range(num_classes)]


def read_prediction(prediction_path: str, task: str, img_path: str) -> np.ndarray:
    path = osp.join(prediction_path, task, osp.splitext(osp.basename(img_path))[0] + '.png')
    pred = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if pred is None:
        raise FileNotFoundError(f'No prediction {path!r} for {img_path!r}; write the '
                                'predictions with tools/test.py CONFIG CHECKPOINT --out '
                                f'{prediction_path}.')
    return pred


def calculate_confusion_matrices(dataset, prediction_path: str,
                                 tasks: Sequence[str]) -> Dict[str, np.ndarray]:
    """``{task: (C, C) pixel counts conf[gt, pred]}`` over the whole dataset."""
    num_classes = {task: dataset.metainfo['num_classes'][task] for task in tasks}
    matrices = {task: np.zeros((n, n), dtype=np.int64) for task, n in num_classes.items()}
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        for task in tasks:
            gt = sample.get(get_task_spec(task).gt_key).data.squeeze(0).numpy()
            pred = read_prediction(prediction_path, task, sample.img_path)
            matrices[task] += semseg_confusion(pred, gt, num_classes[task], IGNORE_INDEX)
    return matrices


def plot_confusion_matrix(matrix: np.ndarray, labels: Sequence[str], path: Optional[str],
                          show: bool = False, title: str = 'Normalized Confusion Matrix',
                          color_theme: str = 'OrRd') -> None:
    """Draw ``matrix`` (pixel counts, rows = ground truth) normalised per row, in %."""
    import matplotlib.pyplot as plt
    with np.errstate(divide='ignore', invalid='ignore'):
        percent = matrix / matrix.sum(axis=1, keepdims=True) * 100
    num = len(labels)
    size = max(6., 0.32 * num + 3)
    fig, ax = plt.subplots(figsize=(size, size * 0.9), dpi=100)
    image = ax.imshow(percent, cmap=plt.get_cmap(color_theme), vmin=0, vmax=100)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label='% of the ground-truth class')
    ax.set_title(title, fontweight='bold')
    ax.set_xlabel('Prediction')
    ax.set_ylabel('Ground truth')
    ax.set_xticks(np.arange(num), labels, rotation=60, ha='right', rotation_mode='anchor')
    ax.set_yticks(np.arange(num), labels)
    ax.set_xticks(np.arange(num + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(num + 1) - 0.5, minor=True)
    ax.grid(which='minor', color='0.85', linewidth=0.5)
    ax.tick_params(which='minor', length=0)
    if num <= 25:  # the values are readable
        for row in range(num):
            for col in range(num):
                if np.isfinite(percent[row, col]):
                    ax.text(col, row, f'{percent[row, col]:.0f}', ha='center', va='center',
                            fontsize=7, color='white' if percent[row, col] > 60 else 'black')
    fig.tight_layout()
    if path is not None:
        fig.savefig(path)
    if show:
        plt.show()
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    check_config_path(args.config)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmmtl'))
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    tasks = label_tasks(dataset, args.tasks)
    matrices = calculate_confusion_matrices(dataset, args.prediction_path, tasks)
    os.makedirs(args.save_dir, exist_ok=True)
    for task, matrix in matrices.items():
        stem = osp.join(args.save_dir, f'confusion_matrix_{task}')
        np.save(stem + '.npy', matrix)
        plot_confusion_matrix(matrix, class_names(dataset, task, len(matrix)), stem + '.png',
                              args.show, f'{args.title} ({task})', args.color_theme)
        print(f'{task}: {len(matrix)} classes, {matrix.sum()} pixels, '
              f'mIoU {miou_from_confusion(matrix) * 100:.2f} -> {stem}.png')


if __name__ == '__main__':
    main()
