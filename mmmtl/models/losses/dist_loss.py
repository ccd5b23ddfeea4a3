from typing import Dict, Tuple, Union

import torch
from torch import Tensor

from mmmtl.registry import MODELS

from .distill_utils import BaseLogitDistillLoss, LogProbs


def pearson_correlation(student_lp: Tensor, teacher_lp: Tensor,
                        dim: Union[int, Tuple[int, ...]],
                        eps: float = 1e-8) -> Tensor:
    """Pearson correlation of the probabilities of every line of two log-matrices.

    Each line is rescaled by its maximum before ``exp`` (the correlation is
    invariant to positive scaling), so lines of underflowing probabilities
    keep their exact correlation. ``-inf`` entries (masked) are left out.

    Args:
        student_lp, teacher_lp: Log-probabilities of the same shape, e.g. (R, K).
        dim: Dim(s) the correlation runs over, e.g. 1 for one correlation
            per row of an (R, K) matrix, 0 for one per column.
        eps: Lower bound of the standard deviations (a constant line has
            correlation 0).

    Returns:
        The correlations, the input shape without ``dim``.
    """
    valid = torch.isfinite(student_lp)
    count = valid.sum(dim=dim, keepdim=True).clamp(min=1)

    def centred(log_values: Tensor) -> Tensor:
        peak = log_values.amax(dim=dim, keepdim=True).detach()
        values = torch.where(valid, (log_values - peak).exp(), torch.zeros_like(log_values))
        mean = values.sum(dim=dim, keepdim=True) / count
        return torch.where(valid, values - mean, torch.zeros_like(values))

    student_c, teacher_c = centred(student_lp), centred(teacher_lp)
    covariance = (student_c * teacher_c).sum(dim=dim)
    student_norm = (student_c**2).sum(dim=dim).clamp(min=eps**2).sqrt()
    teacher_norm = (teacher_c**2).sum(dim=dim).clamp(min=eps**2).sqrt()
    return covariance / (student_norm * teacher_norm)


@MODELS.register_module()
class DISTLoss(BaseLogitDistillLoss):
    """DIST (Huang et al., NeurIPS 2022): correlation-based distillation.

    On the ``[R, K]`` probability matrices of one task:

    - ``inter = inter_weight * tau^2 * (1 - mean_r pearson(P_S[r, :], P_T[r, :]))``
    - ``intra = intra_weight * tau^2 * (1 - mean_k pearson(P_S[:, k], P_T[:, k]))``

    both times ``loss_weight``; terms with weight 0 are not returned.

    Args:
        mode: ``'channel'``, ``'binary'`` or ``'spatial'``.
        tau: Temperature (DIST's default 1).
        inter_weight: DIST's beta, weight of the row term.
        intra_weight: DIST's gamma, weight of the column term.
        loss_weight: Factor on both terms.
        ignore_invalid: Exclude pixels whose ground truth is ignore/invalid.
    """

    def __init__(self, mode: str = 'channel', tau: float = 1.0, inter_weight: float = 1.0,
                 intra_weight: float = 1.0, loss_weight: float = 1.0,
                 ignore_invalid: bool = False) -> None:
        super().__init__(mode=mode, tau=tau, loss_weight=loss_weight,
                         ignore_invalid=ignore_invalid)
        if inter_weight == 0 and intra_weight == 0:
            raise ValueError('DISTLoss: inter_weight and intra_weight are both 0.')
        self.inter_weight = float(inter_weight)
        self.intra_weight = float(intra_weight)

    def term_names(self) -> Tuple[str, ...]:
        names = ('inter', ) if self.inter_weight else ()
        return names + (('intra', ) if self.intra_weight else ())

    def compute(self, log_probs: LogProbs) -> Dict[str, Tensor]:
        scale = self.loss_weight * self.tau**2
        terms = {}
        for name, weight, rows in (('inter', self.inter_weight, True),
                                   ('intra', self.intra_weight, False)):
            if weight:
                student, teacher, dims = log_probs.lines(rows)
                correlation = pearson_correlation(student, teacher, dim=dims).mean()
                terms[name] = scale * weight * (1 - correlation)
        return terms

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, inter_weight={self.inter_weight}, '
                f'intra_weight={self.intra_weight}')
