"""Surface normals: a unit vector per pixel, in camera coordinates."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..task_kind import TaskKind, register_task_kind

# Component of the normal that a flip in each direction negates (x points right, y down).
FLIPPED_COMPONENT = dict(horizontal=0, vertical=1)


@register_task_kind
class NormalKind(TaskKind):
    """(x, y, z) unit vectors, the zero vector = invalid; resized nearest.

    Normals are vectors: mirroring the image horizontally negates x,
    vertically y. The prediction is the normalised logit vector. Drawn and
    saved as RGB ``(n + 1) / 2 * 255`` (x -> R, y -> G, z -> B).
    """
    name = 'normal'
    gt_channels = 3
    target = '(N, 3, H, W) float unit normals, the zero vector = invalid'
    loss_hint = 'NormalL1Loss'

    def flip(self, values: np.ndarray, direction: str) -> np.ndarray:
        values[..., FLIPPED_COMPONENT[direction]] *= -1
        return values

    def valid_mask(self, gt: Tensor) -> Tensor:
        return gt.abs().sum(dim=1) > 0

    def check_gt(self, gt: np.ndarray, num_classes: Optional[int]) -> Optional[str]:
        if gt.ndim != 3 or gt.shape[2] != 3:
            return f'expected (H, W, 3) normals, got {gt.shape}'
        if np.abs(gt).max() > 1 + 1e-3:
            return f'components outside [-1, 1] (max |n| {float(np.abs(gt).max()):.3g})'
        return None

    def random_gt(self, num_classes: int, size_hw: Tuple[int, int],
                  generator: Optional[torch.Generator] = None) -> Tensor:
        return F.normalize(torch.randn(3, *size_hw, generator=generator), dim=0)

    def predict(self, logits: Tensor) -> Tensor:
        return F.normalize(logits, dim=0)

    def colorize(self, data: np.ndarray, is_gt: bool, palette: Optional[Sequence] = None,
                 value_range: Optional[Tuple[float, float]] = None) -> np.ndarray:
        from mmmtl.visualization.colorize import colorize_normals
        return colorize_normals(data)

    def save(self, pred: np.ndarray, stem: str, depth_png: bool = True) -> List[str]:
        from mmmtl.visualization.prediction_files import imwrite
        rgb = np.round((np.clip(pred.transpose(1, 2, 0), -1, 1) + 1) / 2 * 255).astype(np.uint8)
        return [imwrite(stem + '.png', np.ascontiguousarray(rgb[..., ::-1]))]
