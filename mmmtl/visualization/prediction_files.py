"""Files of one task's prediction map, in the formats evaluation tools read.

- semseg / human parts: label PNG, one class index per pixel (8-bit, or
  16-bit when a class index exceeds 255);
- edge / saliency: 8-bit PNG of the probability, ``round(p * 255)``;
- normals: 8-bit RGB PNG of ``(n + 1) / 2 * 255`` (x -> R, y -> G, z -> B);
- depth: float32 ``.npy`` in metres and, optionally, a 16-bit PNG in
  millimetres (``round(d * 1000)``, saturating at 65.535 m).
"""
import os
import os.path as osp
from typing import List, Union

import cv2
import numpy as np
import torch

from mmmtl.tasks import get_task_spec

DEPTH_PNG_SCALE = 1000.  # 16-bit depth PNG unit: millimetres


def _to_numpy(data: Union[torch.Tensor, np.ndarray]) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    return np.asarray(data)


def imwrite(path: str, image: np.ndarray) -> str:
    """Write ``image`` to ``path`` or raise an OSError naming it; return ``path``."""
    if not cv2.imwrite(path, image):
        raise OSError(f'Could not write {path!r}.')
    return path


def save_task_prediction(task: str, pred: Union[torch.Tensor, np.ndarray], folder: str,
                         name: str, depth_png: bool = True) -> List[str]:
    """Write ``pred`` of ``task`` as ``<folder>/<name>.png`` (and ``.npy``).

    The format is the task kind's (:meth:`mmmtl.tasks.TaskKind.save`).

    Args:
        task: Task name, e.g. ``'semseg'``.
        pred: The ``pred_<field>`` map, (1, H, W) or (3, H, W) for normals.
        folder: Output folder (created).
        name: File name without extension.
        depth_png: Also write the 16-bit millimetre PNG of depth.

    Returns:
        The written paths.
    """
    kind = get_task_spec(task).task_kind
    pred = _to_numpy(pred)
    if pred.ndim != 3 or pred.shape[0] != kind.gt_channels:
        raise ValueError(f'Prediction of task {task!r} must be ({kind.gt_channels}, H, W), got '
                         f'{tuple(pred.shape)}.')
    os.makedirs(folder, exist_ok=True)
    return kind.save(pred, osp.join(folder, name), depth_png)
