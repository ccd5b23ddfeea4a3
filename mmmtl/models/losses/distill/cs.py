from typing import Tuple

from torch import Tensor

from mmmtl.registry import MODELS

from .base import InterIntraLoss
from .lines import Lines


def cs_divergence(log_pp: Tensor, log_qq: Tensor, log_pq: Tensor, lines: Lines) -> Tensor:
    """Cauchy-Schwarz divergence of every line (kept dims, 0 if empty) (paper Eq. 4)::

        D_CS(p, q) = -log( sum p q / sqrt(sum p^2 * sum q^2) )
                   = 1/2 log sum p^2 + 1/2 log sum q^2 - log sum p q

    from ``log p^2 = 2 log p``, ``log q^2`` and ``log pq = log p + log q`` by
    log-sum-exps: exact when ``p``, ``q`` underflow. >= 0, symmetric, 0 iff
    ``p`` is proportional to ``q``, blind to the scale of either (columns
    need no renormalisation).
    """
    return (0.5 * lines.logsumexp(log_pp) + 0.5 * lines.logsumexp(log_qq)
            - lines.logsumexp(log_pq))


@MODELS.register_module()
class CSDivergenceLoss(InterIntraLoss):
    """KDAM's Cauchy-Schwarz distillation loss (paper Eq. 4-6)::

        inter = inter_weight * (1/R) sum_r D_CS(P_S[r, :], P_T[r, :])   (Eq. 5)
        intra = intra_weight * (1/K) sum_k D_CS(P_S[:, k], P_T[:, k])   (Eq. 6)

    both times ``loss_weight``, on the ``[R, K]`` matrices of one task; the
    distiller sums the tasks (Eq. 7). ``channel`` mode: a row is a pixel's
    class distribution, a column a class over the batch's pixels. ``spatial``
    mode: a row is a map's distribution over its locations, a column a
    location over the batch's maps (:mod:`.base`).

    Args: ``mode``, ``tau``, ``loss_weight``, ``ignore_invalid``,
    ``global_batch`` as :class:`.BaseDistillLoss`; ``inter_weight``,
    ``intra_weight``: weights of the row and the column term (0: left out).
    """

    def line_inputs(self, log_p: Tensor, log_q: Tensor) -> Tuple[Tensor, ...]:
        return 2 * log_p, 2 * log_q, log_p + log_q

    def divergence(self, log_pp: Tensor, log_qq: Tensor, log_pq: Tensor, *,
                   lines: Lines) -> Tensor:
        return cs_divergence(log_pp, log_qq, log_pq, lines)
