from torch import Tensor

from mmmtl.registry import MODELS

from .base import InterIntraLoss
from .lines import NEG_INF, Lines


def pearson(log_p: Tensor, log_q: Tensor, lines: Lines, eps: float = 1e-8) -> Tensor:
    """Pearson correlation of ``p`` and ``q`` along every line (kept dims), from
    their logs. Each line is divided by its largest entry first (which keeps
    the correlation), so underflowing lines keep theirs; a constant line has 0."""
    p = lines.masked(log_p - lines.amax(log_p), NEG_INF).exp()  # 0 at invalid entries
    q = lines.masked(log_q - lines.amax(log_q), NEG_INF).exp()
    count = lines.sum(p.new_ones(()).expand_as(p)).clamp(min=1)
    p, q = p - lines.sum(p) / count, q - lines.sum(q) / count
    covariance, var_p, var_q = lines.sum(p * q), lines.sum(p * p), lines.sum(q * q)
    return covariance / (var_p.clamp(min=eps**2) * var_q.clamp(min=eps**2)).sqrt()


@MODELS.register_module()
class DISTLoss(InterIntraLoss):
    """DIST (Huang et al., NeurIPS 2022) on the rows and columns of CS's matrices::

        inter = inter_weight * tau^2 * (1/R) sum_r (1 - pearson(P_S[r, :], P_T[r, :]))
        intra = intra_weight * tau^2 * (1/K) sum_k (1 - pearson(P_S[:, k], P_T[:, k]))

    both times ``loss_weight``. In ``binary`` mode two rows ``[s, 1 - s]``
    correlate to their sign agreement +-1, with zero gradient: no inter term.

    Args as :class:`.CSDivergenceLoss`; ``inter_weight`` / ``intra_weight`` are
    DIST's beta / gamma, ``tau`` defaults to DIST's 1.
    """

    def __init__(self, mode: str = 'channel', tau: float = 1.0, inter_weight: float = 1.0,
                 intra_weight: float = 1.0, loss_weight: float = 1.0,
                 ignore_invalid: bool = False, global_batch: bool = True) -> None:
        super().__init__(mode, tau, inter_weight, intra_weight, loss_weight, ignore_invalid,
                         global_batch)
        if mode == 'binary' and inter_weight != 0:
            raise ValueError(
                "DISTLoss: mode='binary' has no inter term: the correlation of two rows "
                "[s, 1 - s] is their sign agreement +-1, whose gradient is zero. Set "
                "inter_weight=0 (the intra term correlates the sigmoid maps over the pixels) "
                "or use mode='spatial'.")
        self.scale = self.tau**2

    def divergence(self, log_p: Tensor, log_q: Tensor, *, lines: Lines) -> Tensor:
        return 1 - pearson(log_p, log_q, lines)
