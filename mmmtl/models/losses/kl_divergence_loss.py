from typing import Dict, Tuple

import torch
from torch import Tensor

from mmmtl.registry import MODELS

from .distill_utils import BaseLogitDistillLoss, LogProbs


@MODELS.register_module()
class KLDivergenceLoss(BaseLogitDistillLoss):
    """Plain KD (Hinton et al.; paper Eq. 2-3): ``tau^2 * KL(P_T || P_S)``.

    The KL divergence of every row of the ``[R, K]`` matrices (a pixel's
    class distribution in ``channel`` / ``binary`` mode, a map's spatial
    distribution in ``spatial`` mode), averaged over the rows, times
    ``tau^2 * loss_weight``. Returned as ``{'kl': loss}``.

    Args:
        mode: ``'channel'``, ``'binary'`` or ``'spatial'``.
        tau: Temperature (3 in the paper's plain-KD setting).
        loss_weight: Factor on the loss.
        ignore_invalid: Exclude pixels whose ground truth is ignore/invalid.
    """

    def __init__(self, mode: str = 'channel', tau: float = 3.0, loss_weight: float = 1.0,
                 ignore_invalid: bool = False) -> None:
        super().__init__(mode=mode, tau=tau, loss_weight=loss_weight,
                         ignore_invalid=ignore_invalid)

    def term_names(self) -> Tuple[str, ...]:
        return ('kl', )

    def compute(self, log_probs: LogProbs) -> Dict[str, Tensor]:
        student_lp, teacher_lp, dims = log_probs.lines(rows=True)
        # Masked entries (-inf in both) contribute 0, not -inf - -inf.
        log_ratio = teacher_lp - student_lp
        if log_probs.masked:
            log_ratio = torch.where(torch.isfinite(teacher_lp), log_ratio,
                                    torch.zeros_like(log_ratio))
        row_kl = (teacher_lp.exp() * log_ratio).sum(dim=dims)
        return {'kl': self.loss_weight * self.tau**2 * row_kl.mean()}
