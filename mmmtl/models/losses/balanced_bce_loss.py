from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmtl.registry import MODELS
from mmmtl.tasks import IGNORE_INDEX

from .utils import masked_mean


def balanced_binary_loss(log_pos: torch.Tensor, log_neg: torch.Tensor, target: torch.Tensor,
                         pos_weight: Optional[float], ignore_index: int) -> torch.Tensor:
    """Class-balanced binary cross-entropy from log-probabilities.

    Positives are weighted by ``pos_weight`` and negatives by
    ``1 - pos_weight``; with ``pos_weight=None`` the weight is the fraction of
    negatives among the valid pixels of the batch (MTI-Net's balancing).

    Args:
        log_pos, log_neg: (N, H, W) log-probabilities of the two classes.
        target: (N, H, W) int64 in {0, 1} or ``ignore_index``.
    """
    valid = target != ignore_index
    positive = (target == 1) & valid
    if ((target != 0) & (target != 1) & valid).any():
        raise ValueError(f'binary target has values other than 0, 1 and {ignore_index}.')
    if pos_weight is None:
        num_valid = valid.sum().clamp(min=1)
        weight = 1. - positive.sum().to(log_pos.dtype) / num_valid
    else:
        weight = torch.as_tensor(pos_weight, dtype=log_pos.dtype, device=log_pos.device)
    per_pixel = -(weight * positive * log_pos + (1. - weight) * (~positive) * log_neg)
    return masked_mean(per_pixel, valid)


@MODELS.register_module()
class BalancedBinaryCrossEntropyLoss(nn.Module):
    """Balanced BCE on one-channel logits (boundary detection).

    Args:
        pos_weight: Weight of positive (edge) pixels, negatives get
            ``1 - pos_weight`` (0.95 on PASCAL-Context as in the reference
            code). ``None`` balances by the batch's class frequencies.
        loss_weight: Task weight.
        ignore_index: Label of ignored pixels.
    """

    #: Task kinds served; the target is read as stacked from gt_<field> (see TaskLoss).
    task_kinds = ('binary', )

    def __init__(self, pos_weight: Optional[float] = 0.95, loss_weight: float = 1.0,
                 ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__()
        self.pos_weight = pos_weight
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """logits: (N, 1, H, W); target: (N, 1, H, W) int64."""
        logits, target = logits.squeeze(1), target.squeeze(1)
        loss = balanced_binary_loss(F.logsigmoid(logits), F.logsigmoid(-logits), target,
                                    self.pos_weight, self.ignore_index)
        return self.loss_weight * loss


@MODELS.register_module()
class BalancedCrossEntropyLoss(nn.Module):
    """Balanced two-class cross-entropy (saliency).

    Takes two-channel logits (softmax over background / salient) or
    one-channel logits (sigmoid).

    Args:
        pos_weight: Weight of salient pixels; ``None`` (default) balances by
            the batch's class frequencies.
        loss_weight: Task weight.
        ignore_index: Label of ignored pixels.
    """

    #: Task kinds served; the target is read as stacked from gt_<field> (see TaskLoss).
    task_kinds = ('binary', )

    def __init__(self, pos_weight: Optional[float] = None, loss_weight: float = 1.0,
                 ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__()
        self.pos_weight = pos_weight
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """logits: (N, 2, H, W) or (N, 1, H, W); target: (N, 1, H, W) int64."""
        target = target.squeeze(1)
        if logits.shape[1] == 2:
            log_probs = F.log_softmax(logits, dim=1)
            log_pos, log_neg = log_probs[:, 1], log_probs[:, 0]
        elif logits.shape[1] == 1:
            log_pos, log_neg = F.logsigmoid(logits[:, 0]), F.logsigmoid(-logits[:, 0])
        else:
            raise ValueError(f'{type(self).__name__} takes 1 or 2 channels, got '
                             f'{logits.shape[1]}.')
        loss = balanced_binary_loss(log_pos, log_neg, target, self.pos_weight,
                                    self.ignore_index)
        return self.loss_weight * loss
