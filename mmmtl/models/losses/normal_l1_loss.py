import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmtl.registry import MODELS

from .utils import masked_mean


@MODELS.register_module()
class NormalL1Loss(nn.Module):
    """L1 loss between the L2-normalised prediction and the gt normals.

    Per pixel, the absolute differences of the three components are summed;
    the mean runs over valid pixels (gt with a non-zero norm).

    Args:
        loss_weight: Task weight.
    """

    #: Task kinds served; the target is read as stacked from gt_<field> (see TaskLoss).
    task_kinds = ('normal', )

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """pred, target: (N, 3, H, W) float."""
        valid = target.abs().sum(dim=1) > 0
        diff = (F.normalize(pred, dim=1) - target).abs().sum(dim=1)
        return self.loss_weight * masked_mean(diff, valid)
