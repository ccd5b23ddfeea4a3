"""Binary maps: foreground / background per pixel (edges, saliency)."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..task_kind import register_task_kind
from .label import IGNORE_INDEX, LabelKind


@register_task_kind
class BinaryKind(LabelKind):
    """{0, 1} map, 255 = ignore; resized nearest; prediction = probability.

    The head has one foreground logit (sigmoid) or two class logits
    (softmax). Drawn as a heat map (ignored gt pixels grey), saved as the
    8-bit PNG ``round(p * 255)``.
    """
    name = 'binary'
    target = '(N, 1, H, W) int64 labels in {0, 1}, 255 = ignore'

    def check_gt(self, gt: np.ndarray, num_classes: Optional[int]) -> Optional[str]:
        bad = np.unique(gt[~np.isin(gt, (0, 1, IGNORE_INDEX))])
        if bad.size:
            return f'values {bad[:5].tolist()} not in {{0, 1, {IGNORE_INDEX}}}'
        return None

    def random_gt(self, num_classes: int, size_hw: Tuple[int, int],
                  generator: Optional[torch.Generator] = None) -> Tensor:
        return torch.randint(0, 2, (1, *size_hw), generator=generator)

    def predict(self, logits: Tensor) -> Tensor:
        if logits.shape[0] == 2:
            return logits.softmax(dim=0)[1:2]
        return logits.sigmoid()

    def colorize(self, data: np.ndarray, is_gt: bool, palette: Optional[Sequence] = None,
                 value_range: Optional[Tuple[float, float]] = None) -> np.ndarray:
        from mmmtl.visualization.colorize import colorize_probability
        values = data[0].astype(np.float32)
        if is_gt:
            ignore = values == IGNORE_INDEX
            return colorize_probability(np.where(ignore, 0, values), ignore)
        return colorize_probability(values)

    def save(self, pred: np.ndarray, stem: str, depth_png: bool = True) -> List[str]:
        from mmmtl.visualization.prediction_files import imwrite
        prob = np.clip(pred[0].astype(np.float32), 0, 1)
        return [imwrite(stem + '.png', np.round(prob * 255).astype(np.uint8))]
