"""Label maps: one class index per pixel (semantic segmentation, human parts)."""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from ..task_kind import GTLimits, TaskKind, register_task_kind

IGNORE_INDEX = 255


@register_task_kind
class LabelKind(TaskKind):
    """Integer class map, 255 = ignore; resized nearest; prediction = argmax.

    Soft output: the (num_classes, H, W) softmax probabilities.

    Drawn with the dataset's palette blended over the image, with a legend
    of the classes present (their dataset names), saved as a label PNG
    (8-bit, or 16-bit when a class index exceeds 255).
    """
    name = 'label'
    gt_dtype = torch.int64
    pad_value = IGNORE_INDEX
    label_map = True
    overlay = True
    target = '(N, 1, H, W) int64 class labels, 255 = ignore'

    def valid_mask(self, gt: Tensor) -> Tensor:
        return gt[:, 0] != IGNORE_INDEX

    def bad_gt(self, gt: np.ndarray, limits: GTLimits) -> Tuple[np.ndarray, str]:
        if limits.num_classes is None:
            return np.zeros(gt.shape[:2], bool), ''
        bad = (gt != IGNORE_INDEX) & ((gt < 0) | (gt >= limits.num_classes))
        return bad, (f'labels {np.unique(gt[bad])[:5].tolist()} outside '
                     f'[0, {limits.num_classes}) and not {IGNORE_INDEX}')

    def random_gt(self, num_classes: int, size_hw: Tuple[int, int],
                  generator: Optional[torch.Generator] = None) -> Tensor:
        return torch.randint(0, num_classes, (1, *size_hw), generator=generator)

    def predict(self, logits: Tensor) -> Tensor:
        return logits.argmax(dim=0, keepdim=True)

    def soft(self, logits: Tensor) -> Tensor:
        return logits.softmax(dim=0)

    def colorize(self, data: np.ndarray, is_gt: bool, palette: Optional[Sequence] = None,
                 value_range: Optional[Tuple[float, float]] = None) -> np.ndarray:
        from mmmtl.visualization.colorize import colorize_labels
        return colorize_labels(data[0], palette)

    @staticmethod
    def present_classes(maps: Sequence[np.ndarray]) -> List[int]:
        """Sorted classes found in any of the label ``maps`` (ignore 255 left out)."""
        values = np.unique(np.concatenate([np.asarray(m).ravel() for m in maps]))
        return [int(v) for v in values if v != IGNORE_INDEX]

    def draw_key(self, title: str, maps: Sequence[np.ndarray], height: int,
                 palette: Optional[Sequence] = None,
                 class_names: Optional[Sequence[str]] = None,
                 value_range: Optional[Tuple[float, float]] = None) -> Optional[np.ndarray]:
        from mmmtl.visualization.colorize import complete_palette
        from mmmtl.visualization.keys import legend
        present = self.present_classes(maps)
        colors = complete_palette(palette, present[-1] + 1 if present else 1)
        names = [class_names[c] if class_names and c < len(class_names) else f'class {c}'
                 for c in present]
        return legend(list(zip(names, colors[present])), height, title)

    def save(self, pred: np.ndarray, stem: str, depth_png: bool = True) -> List[str]:
        from mmmtl.visualization.prediction_files import imwrite
        labels = pred[0]
        dtype = np.uint8 if labels.size == 0 or labels.max() <= 255 else np.uint16
        return [imwrite(stem + '.png', labels.astype(dtype))]
