from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmtl.registry import MODELS
from mmmtl.tasks import IGNORE_INDEX

from .utils import masked_mean


@MODELS.register_module()
class MultiTaskCrossEntropyLoss(nn.Module):
    """Pixel-wise cross-entropy for label tasks (semseg, human parts).

    The mean runs over valid pixels only (``target != ignore_index``), so an
    image that is all ignore (e.g. human parts of an image without a person)
    contributes nothing. Without class weights it equals mmseg's
    ``CrossEntropyLoss(avg_non_ignore=True)``; it also rejects labels outside
    ``[0, C)`` that are not ``ignore_index`` with a clear error.

    Args:
        loss_weight: Task weight.
        ignore_index: Label of ignored pixels.
        class_weight: Optional per-class weights.
    """

    #: Task kinds served; the target is read as stacked from gt_<field> (see TaskLoss).
    task_kinds = ('label', 'binary')

    def __init__(self, loss_weight: float = 1.0, ignore_index: int = IGNORE_INDEX,
                 class_weight: Optional[Sequence[float]] = None) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index
        self.class_weight = class_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """logits: (N, C, H, W); target: (N, 1, H, W) or (N, H, W) int64."""
        if target.dim() == 4:
            target = target.squeeze(1)
        num_classes = logits.shape[1]
        valid = target != self.ignore_index
        out_of_range = valid & ((target < 0) | (target >= num_classes))
        if out_of_range.any():
            raise ValueError(f'{type(self).__name__}: label '
                             f'{int(target[out_of_range][0])} is outside [0, '
                             f'{num_classes}) and is not ignore ({self.ignore_index}).')
        weight = None
        if self.class_weight is not None:
            weight = logits.new_tensor(self.class_weight)
        per_pixel = F.cross_entropy(logits, target.clamp(0, num_classes - 1) * valid,
                                    weight=weight, reduction='none')
        if weight is not None:
            pixel_weight = weight[target.clamp(0, num_classes - 1)] * valid
            loss = (per_pixel * valid).sum() / pixel_weight.sum().clamp(min=1e-12)
        else:
            loss = masked_mean(per_pixel, valid)
        return self.loss_weight * loss
