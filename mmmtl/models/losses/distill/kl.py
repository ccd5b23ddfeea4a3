from typing import Dict, Tuple

from torch import Tensor

from mmmtl.registry import MODELS

from .base import BaseDistillLoss
from .lines import NEG_INF, Lines


@MODELS.register_module()
class KLDivergenceLoss(BaseDistillLoss):
    """Plain KD (Hinton et al.; paper Eq. 1-3), over the rows of the matrices::

        kl = loss_weight * tau^2 * (1/R) sum_r KL(P_T[r, :] || P_S[r, :]),
        KL(q || p) = sum q (log q - log p)

    Args as :class:`.BaseDistillLoss`; ``tau`` defaults to the paper's plain-KD 3.
    """

    def __init__(self, mode: str = 'channel', tau: float = 3.0, loss_weight: float = 1.0,
                 ignore_invalid: bool = False, global_batch: bool = True) -> None:
        super().__init__(mode, tau, loss_weight, ignore_invalid, global_batch)

    def term_names(self) -> Tuple[str, ...]:
        return ('kl', )

    def terms(self, log_p: Tensor, log_q: Tensor, rows: Lines,
              columns: Lines) -> Dict[str, Tensor]:
        teacher_p = rows.masked(log_q, NEG_INF).exp()  # 0 at invalid entries
        kl = rows.sum(teacher_p * (log_q - log_p))
        return {'kl': self.loss_weight * self.tau**2 * rows.mean(kl)}
