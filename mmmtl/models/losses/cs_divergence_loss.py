from typing import Callable, Dict, List, Sequence, Tuple, Union

import torch
from torch import Tensor

from mmmtl.registry import MODELS

from .distill_utils import BaseLogitDistillLoss, LogProbs

Dims = Union[int, Tuple[int, ...]]


def log_cs_divergence(student_lp: Tensor, teacher_lp: Tensor, dim: Dims) -> Tensor:
    """Cauchy-Schwarz divergence of every line of two log-matrices.

    ``D_CS(p, q) = -log(sum p*q / sqrt(sum p^2 * sum q^2))`` along ``dim``,
    from ``log p`` and ``log q`` by log-sum-exp, so it is exact when ``p``
    and ``q`` underflow. It is >= 0, symmetric, 0 iff ``p`` is proportional
    to ``q``, and invariant to the scale of either argument.

    Args:
        student_lp, teacher_lp: Log-values of the same shape, ``-inf`` for
            zeros, e.g. (R, K).
        dim: Dim(s) summed over, e.g. 1 for one divergence per row of an
            (R, K) matrix, 0 for one per column.

    Returns:
        The divergences, the input shape without ``dim``.
    """
    cross = torch.logsumexp(student_lp + teacher_lp, dim=dim)
    student_norm = torch.logsumexp(2 * student_lp, dim=dim)
    teacher_norm = torch.logsumexp(2 * teacher_lp, dim=dim)
    return 0.5 * (student_norm + teacher_norm) - cross


# Below this, a float32 sum of products may have lost the contribution of
# underflowed products; such lines are recomputed with log-sum-exp.
_SAFE_SUM = 1e-25


def _log_sum(products: Tensor, log_products: Callable[[], Tensor], dim: Dims) -> Tensor:
    """``log(products.sum(dim))``, exact even where the products underflow.

    The direct sum is used where it is safely large; other lines (rare:
    extreme logits) take ``logsumexp(log_products(), dim)`` instead.
    """
    total = products.sum(dim=dim)
    unsafe = ~(total >= _SAFE_SUM)
    # Clamped so that the discarded values have a finite, zero gradient.
    log_total = total.clamp(min=_SAFE_SUM).log()
    if bool(unsafe.any()):
        log_total = torch.where(unsafe, torch.logsumexp(log_products(), dim=dim), log_total)
    return log_total


def fast_log_cs_divergence(student_lp: Tensor, teacher_lp: Tensor,
                           dims: Sequence[Dims]) -> List[Tensor]:
    """:func:`log_cs_divergence` along each of ``dims``, sharing one ``exp``.

    Same values as :func:`log_cs_divergence` (exact under underflow through
    the log-sum-exp fallback), for inputs without ``-inf`` entries.
    """
    student_p, teacher_p = student_lp.exp(), teacher_lp.exp()
    cross = student_p * teacher_p
    student_sq, teacher_sq = student_p * student_p, teacher_p * teacher_p
    divergences = []
    for dim in dims:
        log_cross = _log_sum(cross, lambda: student_lp + teacher_lp, dim)
        log_student = _log_sum(student_sq, lambda: 2 * student_lp, dim)
        log_teacher = _log_sum(teacher_sq, lambda: 2 * teacher_lp, dim)
        divergences.append(0.5 * (log_student + log_teacher) - log_cross)
    return divergences


@MODELS.register_module()
class CSDivergenceLoss(BaseLogitDistillLoss):
    """KDAM's Cauchy-Schwarz distillation loss (paper Eq. 5-6).

    From the ``[R, K]`` probability matrices ``P_S``, ``P_T`` of one task
    (see :mod:`mmmtl.models.losses.distill_utils` for the modes):

    - ``inter = inter_weight * mean_r D_CS(P_S[r, :], P_T[r, :])``
    - ``intra = intra_weight * mean_k D_CS(P_S[:, k], P_T[:, k])``

    both times ``loss_weight``. Terms with weight 0 are neither computed nor
    returned (inter-only / intra-only ablations).

    Args:
        mode: ``'channel'``, ``'binary'`` or ``'spatial'``.
        tau: Temperature dividing the logits.
        inter_weight: Weight of the row (inter) term.
        intra_weight: Weight of the column (intra) term.
        loss_weight: Factor on both terms.
        ignore_invalid: Exclude pixels whose ground truth is ignore/invalid
            (the distiller passes the mask). Default False, as the paper.
    """

    def __init__(self, mode: str = 'channel', tau: float = 1.0, inter_weight: float = 1.0,
                 intra_weight: float = 1.0, loss_weight: float = 1.0,
                 ignore_invalid: bool = False) -> None:
        super().__init__(mode=mode, tau=tau, loss_weight=loss_weight,
                         ignore_invalid=ignore_invalid)
        if inter_weight == 0 and intra_weight == 0:
            raise ValueError('CSDivergenceLoss: inter_weight and intra_weight are both 0.')
        self.inter_weight = float(inter_weight)
        self.intra_weight = float(intra_weight)

    def term_names(self) -> Tuple[str, ...]:
        names = ('inter', ) if self.inter_weight else ()
        return names + (('intra', ) if self.intra_weight else ())

    def compute(self, log_probs: LogProbs) -> Dict[str, Tensor]:
        wanted = [(name, weight, rows) for name, weight, rows in (
            ('inter', self.inter_weight, True), ('intra', self.intra_weight, False)) if weight]
        if log_probs.masked:  # -inf entries: plain log-sum-exp on the kept lines
            divergences = []
            for _, _, rows in wanted:
                student, teacher, dims = log_probs.lines(rows)
                divergences.append(log_cs_divergence(student, teacher, dim=dims))
        else:
            divergences = fast_log_cs_divergence(
                log_probs.student, log_probs.teacher,
                [log_probs.lines(rows)[2] for _, _, rows in wanted])
        return {
            name: self.loss_weight * weight * divergence.mean()
            for (name, weight, _), divergence in zip(wanted, divergences)
        }

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, inter_weight={self.inter_weight}, '
                f'intra_weight={self.intra_weight}')
