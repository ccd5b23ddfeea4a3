from typing import Dict, Tuple

from torch import Tensor

from mmmtl.registry import MODELS

from .distill_utils import BaseLogitDistillLoss, Lines, LogitPair


def pearson_correlation(student_lp: Tensor, teacher_lp: Tensor, lines: Lines,
                        eps: float = 1e-8) -> Tensor:
    """Pearson correlation of the probabilities along every line of two matrices.

    Each line is rescaled by its maximum before ``exp2`` (the correlation is
    invariant to positive scaling), so lines of underflowing probabilities
    keep their exact correlation.

    Args:
        student_lp, teacher_lp: (N, A, B) base-2 log-probabilities.
        lines: The rows or the columns to correlate.
        eps: Lower bound of the standard deviations (a constant line has
            correlation 0).

    Returns:
        One correlation per line, with kept dims.
    """
    # Divided by the line's maximum: underflowing lines keep their exact correlation.
    student_peak, teacher_peak = lines.peak(student_lp, teacher_lp)
    student = lines.exp2_shifted(student_lp, student_peak)
    teacher = lines.exp2_shifted(teacher_lp, teacher_peak)
    student_sum, teacher_sum, count = lines.sum(student, teacher,
                                                student.new_ones(()).expand_as(student))
    count = count.clamp(min=1)
    student = student - student_sum / count
    teacher = teacher - teacher_sum / count
    covariance, student_var, teacher_var = lines.sum(student * teacher, student * student,
                                                     teacher * teacher)
    return covariance / (student_var.clamp(min=eps**2) * teacher_var.clamp(min=eps**2)).sqrt()


@MODELS.register_module()
class DISTLoss(BaseLogitDistillLoss):
    """DIST (Huang et al., NeurIPS 2022): correlation-based distillation.

    On the ``[R, K]`` probability matrices of one task:

    - ``inter = inter_weight * tau^2 * mean_r (1 - pearson(P_S[r, :], P_T[r, :]))``
    - ``intra = intra_weight * tau^2 * mean_k (1 - pearson(P_S[:, k], P_T[:, k]))``

    both times ``loss_weight``; terms with weight 0 are not returned. In
    ``binary`` mode a row is ``[s, 1 - s]``, whose correlation with another
    such row is the sign agreement +-1 with zero gradient: the inter term is
    refused there (``inter_weight`` must be 0); the intra term correlates the
    sigmoid maps over the pixels.

    Args:
        mode: ``'channel'``, ``'binary'`` or ``'spatial'``.
        tau: Temperature (DIST's default 1).
        inter_weight: DIST's beta, weight of the row term.
        intra_weight: DIST's gamma, weight of the column term.
        loss_weight: Factor on both terms.
        ignore_invalid: Exclude pixels whose ground truth is ignore/invalid.
        global_batch: Under DDP, the matrices span the images of all ranks
            (default); False: each rank's own.
    """

    def __init__(self, mode: str = 'channel', tau: float = 1.0, inter_weight: float = 1.0,
                 intra_weight: float = 1.0, loss_weight: float = 1.0,
                 ignore_invalid: bool = False, global_batch: bool = True) -> None:
        super().__init__(mode=mode, tau=tau, loss_weight=loss_weight,
                         ignore_invalid=ignore_invalid, global_batch=global_batch)
        if inter_weight == 0 and intra_weight == 0:
            raise ValueError('DISTLoss: inter_weight and intra_weight are both 0.')
        if mode == 'binary' and inter_weight != 0:
            raise ValueError(
                "DISTLoss: mode='binary' has no inter term: the correlation of two rows "
                "[s, 1 - s] is their sign agreement +-1, whose gradient is zero. Set "
                "inter_weight=0 (the intra term correlates the sigmoid maps over the pixels) "
                "or use mode='spatial'.")
        self.inter_weight = float(inter_weight)
        self.intra_weight = float(intra_weight)

    def term_names(self) -> Tuple[str, ...]:
        names = ('inter', ) if self.inter_weight else ()
        return names + (('intra', ) if self.intra_weight else ())

    def compute(self, pair: LogitPair) -> Dict[str, Tensor]:
        log_probs = pair.log_probs()
        scale = self.loss_weight * self.tau**2
        terms = {}
        for name, weight, lines in (('inter', self.inter_weight, log_probs.rows),
                                    ('intra', self.intra_weight, log_probs.columns)):
            if weight:
                correlation = pearson_correlation(log_probs.student, log_probs.teacher, lines)
                terms[name] = scale * weight * lines.mean(1 - correlation)
        return terms

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, inter_weight={self.inter_weight}, '
                f'intra_weight={self.intra_weight}')
