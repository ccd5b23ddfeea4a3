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

from mmmtl.utils.tasks import get_task_spec

DEPTH_PNG_SCALE = 1000.  # 16-bit depth PNG unit: millimetres


def _to_numpy(data: Union[torch.Tensor, np.ndarray]) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    return np.asarray(data)


def _imwrite(path: str, image: np.ndarray) -> str:
    if not cv2.imwrite(path, image):
        raise OSError(f'Could not write {path!r}.')
    return path


def save_task_prediction(task: str, pred: Union[torch.Tensor, np.ndarray], folder: str,
                         name: str, depth_png: bool = True) -> List[str]:
    """Write ``pred`` of ``task`` as ``<folder>/<name>.png`` (and ``.npy``).

    Args:
        task: Task name, e.g. ``'semseg'``.
        pred: The ``pred_<field>`` map, (1, H, W) or (3, H, W) for normals.
        folder: Output folder (created).
        name: File name without extension.
        depth_png: Also write the 16-bit millimetre PNG of depth.

    Returns:
        The written paths.
    """
    spec = get_task_spec(task)
    pred = _to_numpy(pred)
    channels = 3 if spec.kind == 'normal' else 1
    if pred.ndim != 3 or pred.shape[0] != channels:
        raise ValueError(f'Prediction of task {task!r} must be ({channels}, H, W), got '
                         f'{tuple(pred.shape)}.')
    os.makedirs(folder, exist_ok=True)
    stem = osp.join(folder, name)
    if spec.kind == 'depth':
        depth = np.nan_to_num(pred[0].astype(np.float32))
        np.save(stem + '.npy', depth)
        written = [stem + '.npy']
        if depth_png:
            millimetres = np.clip(np.round(depth * DEPTH_PNG_SCALE), 0, np.iinfo(np.uint16).max)
            written.append(_imwrite(stem + '.png', millimetres.astype(np.uint16)))
        return written
    if spec.kind == 'label':
        labels = pred[0]
        dtype = np.uint8 if labels.size == 0 or labels.max() <= 255 else np.uint16
        return [_imwrite(stem + '.png', labels.astype(dtype))]
    if spec.kind == 'binary':
        prob = np.clip(pred[0].astype(np.float32), 0, 1)
        return [_imwrite(stem + '.png', np.round(prob * 255).astype(np.uint8))]
    rgb = np.round((np.clip(pred.transpose(1, 2, 0), -1, 1) + 1) / 2 * 255).astype(np.uint8)
    return [_imwrite(stem + '.png', np.ascontiguousarray(rgb[..., ::-1]))]
