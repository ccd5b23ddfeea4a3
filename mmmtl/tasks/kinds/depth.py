"""Depth maps: metres per pixel."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..task_kind import Array, TaskKind, register_task_kind


@register_task_kind
class DepthKind(TaskKind):
    """Float depth in metres, 0 = invalid; resized nearest.

    Depth scales with the image: enlarging an image by ``s`` is what a
    camera ``s`` times closer would see, so depth is divided by ``s``. The
    prediction is the logit clamped at 0. Drawn with the turbo colour map
    over the gt's range, saved as float32 ``.npy`` metres and optionally a
    16-bit PNG in millimetres (saturating at 65.535 m).
    """
    name = 'depth'
    target = '(N, 1, H, W) float depth, 0 = invalid'
    loss_hint = 'DepthL1Loss or SiLogLoss'

    def rescale(self, values: Array, image_scale: float) -> Array:
        return values / float(image_scale)

    def valid_mask(self, gt: Tensor) -> Tensor:
        return torch.isfinite(gt[:, 0]) & (gt[:, 0] > 0)

    def check_gt(self, gt: np.ndarray, num_classes: Optional[int]) -> Optional[str]:
        if (gt < 0).any():
            return f'negative depth (min {float(gt.min()):.3g})'
        return None

    def random_gt(self, num_classes: int, size_hw: Tuple[int, int],
                  generator: Optional[torch.Generator] = None) -> Tensor:
        return torch.rand(1, *size_hw, generator=generator) * 5 + 0.5

    def predict(self, logits: Tensor) -> Tensor:
        return logits.clamp(min=0)

    def color_range(self, gt: np.ndarray) -> Optional[Tuple[float, float]]:
        from mmmtl.visualization.colorize import depth_range
        return depth_range(gt)

    def colorize(self, data: np.ndarray, is_gt: bool, palette: Optional[Sequence] = None,
                 value_range: Optional[Tuple[float, float]] = None) -> np.ndarray:
        from mmmtl.visualization.colorize import colorize_depth, depth_range
        return colorize_depth(data[0], value_range or depth_range(data[0]))

    def save(self, pred: np.ndarray, stem: str, depth_png: bool = True) -> List[str]:
        from mmmtl.visualization.prediction_files import DEPTH_PNG_SCALE, imwrite
        depth = np.nan_to_num(pred[0].astype(np.float32))
        np.save(stem + '.npy', depth)
        written = [stem + '.npy']
        if depth_png:
            millimetres = np.clip(np.round(depth * DEPTH_PNG_SCALE), 0, np.iinfo(np.uint16).max)
            written.append(imwrite(stem + '.png', millimetres.astype(np.uint16)))
        return written
