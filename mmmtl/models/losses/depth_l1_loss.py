import torch
import torch.nn as nn

from mmmtl.registry import MODELS

from .utils import masked_mean


@MODELS.register_module()
class DepthL1Loss(nn.Module):
    """L1 loss between predicted and ground-truth depth on valid pixels.

    Valid pixels have a finite ground truth > 0 (0 marks missing depth).

    Args:
        loss_weight: Task weight.
    """

    #: Task kinds served; the target is read as stacked from gt_<field> (see TaskLoss).
    task_kinds = ('depth', )

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """pred, target: (N, 1, H, W) float."""
        valid = torch.isfinite(target) & (target > 0)
        diff = (pred - torch.where(valid, target, torch.zeros_like(target))).abs()
        return self.loss_weight * masked_mean(diff, valid)
