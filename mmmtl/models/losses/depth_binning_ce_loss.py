import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmtl.registry import MODELS

from .utils import masked_mean


def depth_to_bins(depth: torch.Tensor, num_bins: int, min_depth: float,
                  max_depth: float) -> torch.Tensor:
    """Log-spaced bin index of every depth value.

    Bin ``b`` covers ``[min * r**b, min * r**(b+1))`` with
    ``r = (max / min) ** (1 / num_bins)``; depths below ``min_depth`` go to
    bin 0 and depths from ``max_depth`` on to the last bin. Invalid depths
    (<= 0 or not finite) get bin 0 too: mask them out separately.

    Args:
        depth: (...) float depth.

    Returns:
        (...) int64 in ``[0, num_bins)``.
    """
    safe = torch.where(torch.isfinite(depth) & (depth > 0), depth,
                       torch.full_like(depth, min_depth))
    bins = torch.floor(num_bins * torch.log(safe / min_depth) / math.log(max_depth / min_depth))
    return bins.clamp(0, num_bins - 1).long()


@MODELS.register_module()
class DepthBinningCrossEntropyLoss(nn.Module):
    """Depth as classification over log-spaced bins (ATRC's initial depth prediction).

    Args:
        num_bins: Number of bins (= channels of the logits); ATRC uses 40.
        min_depth, max_depth: Range of the bins in metres (ATRC: 0.7 to 10).
        loss_weight: Task weight.
    """

    task_kinds = ('depth', )

    def __init__(self, num_bins: int = 40, min_depth: float = 0.7, max_depth: float = 10.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if num_bins < 2:
            raise ValueError(f'DepthBinningCrossEntropyLoss: num_bins must be >= 2, got '
                             f'{num_bins}.')
        if not 0 < min_depth < max_depth:
            raise ValueError('DepthBinningCrossEntropyLoss: need 0 < min_depth < max_depth, got '
                             f'{min_depth} and {max_depth}.')
        self.num_bins = num_bins
        self.min_depth = min_depth
        self.max_depth = max_depth
        self.loss_weight = loss_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """logits: (N, num_bins, H, W); target: (N, 1, H, W) depth, 0 = invalid."""
        if logits.shape[1] != self.num_bins:
            raise ValueError(f'DepthBinningCrossEntropyLoss: logits have {logits.shape[1]} '
                             f'channels, num_bins is {self.num_bins}.')
        target = target[:, 0]
        valid = torch.isfinite(target) & (target > 0)
        bins = depth_to_bins(target, self.num_bins, self.min_depth, self.max_depth)
        per_pixel = F.cross_entropy(logits, bins, reduction='none')
        return self.loss_weight * masked_mean(per_pixel, valid)
