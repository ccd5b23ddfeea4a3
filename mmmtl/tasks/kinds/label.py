"""Label maps: one class index per pixel (semantic segmentation, human parts)."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..task_kind import TaskKind, register_task_kind

IGNORE_INDEX = 255


@register_task_kind
class LabelKind(TaskKind):
    """Integer class map, 255 = ignore; resized nearest; prediction = argmax.

    Drawn with the dataset's palette, saved as a label PNG (8-bit, or
    16-bit when a class index exceeds 255).
    """
    name = 'label'
    gt_dtype = torch.int64
    pad_value = IGNORE_INDEX
    label_map = True
    target = '(N, 1, H, W) int64 class labels, 255 = ignore'

    def valid_mask(self, gt: Tensor) -> Tensor:
        return gt[:, 0] != IGNORE_INDEX

    def check_gt(self, gt: np.ndarray, num_classes: Optional[int]) -> Optional[str]:
        if num_classes is None:
            return None
        bad = np.unique(gt[(gt != IGNORE_INDEX) & ((gt < 0) | (gt >= num_classes))])
        if bad.size:
            return f'labels {bad[:5].tolist()} outside [0, {num_classes}) and not {IGNORE_INDEX}'
        return None

    def random_gt(self, num_classes: int, size_hw: Tuple[int, int],
                  generator: Optional[torch.Generator] = None) -> Tensor:
        return torch.randint(0, num_classes, (1, *size_hw), generator=generator)

    def predict(self, logits: Tensor) -> Tensor:
        return logits.argmax(dim=0, keepdim=True)

    def colorize(self, data: np.ndarray, is_gt: bool, palette: Optional[Sequence] = None,
                 value_range: Optional[Tuple[float, float]] = None) -> np.ndarray:
        from mmmtl.visualization.colorize import colorize_labels
        return colorize_labels(data[0], palette)

    def save(self, pred: np.ndarray, stem: str, depth_png: bool = True) -> List[str]:
        from mmmtl.visualization.prediction_files import imwrite
        labels = pred[0]
        dtype = np.uint8 if labels.size == 0 or labels.max() <= 255 else np.uint16
        return [imwrite(stem + '.png', labels.astype(dtype))]
