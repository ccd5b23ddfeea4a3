"""A depth loss of the example project, registered where mmmtl's configs find it."""
import torch
import torch.nn as nn

from mmmtl.registry import MODELS


@MODELS.register_module()
class BerHuDepthLoss(nn.Module):
    """Reverse Huber (BerHu) loss on valid depth pixels (Laina et al., 2016).

    ``|e|`` for ``|e| <= c`` and ``(e^2 + c^2) / (2c)`` above, with
    ``c = threshold * max |e|`` over the batch's valid pixels (gt > 0).

    ``task_kinds`` tells mmmtl's ``TaskLoss`` that this loss serves depth and
    reads the (N, 1, H, W) depth map as it is stacked from ``gt_depth``.

    Args:
        threshold: Fraction of the largest error where the loss turns quadratic.
        loss_weight: Task weight.
    """

    task_kinds = ('depth', )

    def __init__(self, threshold: float = 0.2, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.threshold = threshold
        self.loss_weight = loss_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """pred, target: (N, 1, H, W); returns the weighted scalar loss."""
        valid = target > 0  # also False for NaN
        error = torch.where(valid, pred - target, torch.zeros_like(pred)).abs()
        c = (self.threshold * error.max().detach()).clamp(min=1e-6)
        loss = torch.where(error <= c, error, (error**2 + c**2) / (2 * c)) * valid
        return self.loss_weight * loss.sum() / valid.sum().clamp(min=1)
