from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmmtl.registry import MODELS

from .distill_utils import BaseLogitDistillLoss, Lines, LogProbs


def _local_log_sums(student_lp: Tensor, teacher_lp: Tensor, lines: Sequence[Lines],
                    scratch: Optional[Tuple[Tensor, Tensor]] = None) -> List[Tensor]:
    """This rank's ``log sum p*q`` over each of ``lines``, then ``log sum p^2``.

    With ``scratch`` (two tensors like ``student_lp``) the work is done in
    them, without autograd; without, through autograd.
    """
    values, exps = scratch or (None, None)
    values = torch.add(student_lp, teacher_lp, out=values)  # log(p q)
    log_pq = [line.local_logsumexp(values, exps) for line in lines]
    values = torch.mul(student_lp, 2, out=values if scratch else None)  # log(p^2)
    return log_pq + [line.local_logsumexp(values, exps) for line in lines]


class _LocalLogSums(torch.autograd.Function):
    """:func:`_local_log_sums`, then this rank's ``log sum q^2`` (no gradient),
    in two scratch tensors and with a backward that keeps less memory.

    Autograd would keep ``log p + log q`` and ``2 log p`` (two tensors of the
    logits' size) for the backward. This keeps ``log p`` (kept by log_softmax
    anyway) and ``log q``, and recomputes: the gradient of a log-sum-exp is
    the softmax along the line, so ``d/d log p = g_pq * softmax(log p + log q)
    + 2 * g_pp * softmax(2 log p)``. Second derivatives (``create_graph``) go
    through autograd on :func:`_local_log_sums`. (On CPU, fresh tensors of
    more than 32 MB cost page faults: the scratch tensors are reused.)
    """

    @staticmethod
    def forward(ctx, student_lp: Tensor, teacher_lp: Tensor,
                lines: Tuple[Lines, ...]) -> Tuple[Tensor, ...]:
        scratch = torch.empty_like(student_lp), torch.empty_like(student_lp)
        log_sums = _local_log_sums(student_lp, teacher_lp, lines, scratch)
        teacher_sq = torch.mul(teacher_lp, 2, out=scratch[0])  # log(q^2)
        log_qq = [line.local_logsumexp(teacher_sq, scratch[1]) for line in lines]
        ctx.lines = lines
        ctx.save_for_backward(student_lp, teacher_lp, *log_sums)
        ctx.mark_non_differentiable(*log_qq)
        return (*log_sums, *log_qq)

    @staticmethod
    def backward(ctx, *grads: Tensor) -> Tuple[Optional[Tensor], None, None]:
        student_lp, teacher_lp, *log_sums = ctx.saved_tensors
        grads = grads[:len(log_sums)]  # not those of log sum q^2
        if torch.is_grad_enabled():  # create_graph: a differentiable backward
            grad, = torch.autograd.grad(_local_log_sums(student_lp, teacher_lp, ctx.lines),
                                        student_lp, grads, create_graph=True)
            return grad, None, None
        grad, values = torch.empty_like(student_lp), torch.empty_like(student_lp)
        for index, (line, log_sum, line_grad) in enumerate(zip(ctx.lines * 2, log_sums, grads)):
            if index < len(ctx.lines):
                torch.add(student_lp, teacher_lp, out=values)
            else:
                torch.mul(student_lp, 2, out=values)
                line_grad = 2 * line_grad
            softmax = line.exp_shifted(values, log_sum, out=values)  # along the line
            if index == 0:
                torch.mul(softmax, line_grad, out=grad)
            else:
                grad.addcmul_(softmax, line_grad)
        return grad, None, None


def cs_divergences(student_lp: Tensor, teacher_lp: Tensor,
                   lines: Sequence[Lines]) -> List[Tensor]:
    """Cauchy-Schwarz divergence of every line of two matrices (paper Eq. 4).

    ``D_CS(p, q) = -log(sum p*q / sqrt(sum p^2 * sum q^2))``, from ``log p``
    and ``log q`` by log-sum-exp, so it is exact when ``p`` and ``q``
    underflow. It is >= 0, symmetric, 0 iff ``p`` is proportional to ``q``,
    and invariant to the scale of either argument.

    Args:
        student_lp, teacher_lp: (N, A, B) log-probabilities.
        lines: The rows and / or the columns to compare.

    Returns:
        For each of ``lines``, one divergence per line (0 for empty lines),
        with kept dims.
    """
    sums = _LocalLogSums.apply(student_lp, teacher_lp, tuple(lines))
    log_pq, log_pp, log_qq = sums[:len(lines)], sums[len(lines):-len(lines)], sums[-len(lines):]
    divergences = []
    for line, *line_sums in zip(lines, log_pq, log_pp, log_qq):
        pq, pp, qq = line.reduce_logsumexp(torch.stack(line_sums))
        divergences.append(0.5 * (pp + qq) - pq)
    return divergences


@MODELS.register_module()
class CSDivergenceLoss(BaseLogitDistillLoss):
    """KDAM's Cauchy-Schwarz distillation loss (paper Eq. 4-6).

    From the ``[R, K]`` probability matrices ``P_S``, ``P_T`` of one task
    (see :mod:`mmmtl.models.losses.distill_utils` for the modes):

    - ``inter = inter_weight * mean_r D_CS(P_S[r, :], P_T[r, :])`` (Eq. 5)
    - ``intra = intra_weight * mean_k D_CS(P_S[:, k], P_T[:, k])`` (Eq. 6)

    both times ``loss_weight``. Terms with weight 0 are not returned
    (inter-only / intra-only ablations).

    Args:
        mode: ``'channel'``, ``'binary'`` or ``'spatial'``.
        tau: Temperature dividing the logits.
        inter_weight: Weight of the row (inter) term.
        intra_weight: Weight of the column (intra) term.
        loss_weight: Factor on both terms.
        ignore_invalid: Exclude pixels whose ground truth is ignore/invalid
            (the distiller passes the mask). Default False, as the paper.
        global_batch: Under DDP, the matrices span the images of all ranks
            (default), as the paper's batch; False: each rank's own.
    """

    def __init__(self, mode: str = 'channel', tau: float = 1.0, inter_weight: float = 1.0,
                 intra_weight: float = 1.0, loss_weight: float = 1.0,
                 ignore_invalid: bool = False, global_batch: bool = True) -> None:
        super().__init__(mode=mode, tau=tau, loss_weight=loss_weight,
                         ignore_invalid=ignore_invalid, global_batch=global_batch)
        if inter_weight == 0 and intra_weight == 0:
            raise ValueError('CSDivergenceLoss: inter_weight and intra_weight are both 0.')
        self.inter_weight = float(inter_weight)
        self.intra_weight = float(intra_weight)

    def term_names(self) -> Tuple[str, ...]:
        names = ('inter', ) if self.inter_weight else ()
        return names + (('intra', ) if self.intra_weight else ())

    def compute(self, log_probs: LogProbs) -> Dict[str, Tensor]:
        wanted = [(name, weight, lines) for name, weight, lines in (
            ('inter', self.inter_weight, log_probs.rows),
            ('intra', self.intra_weight, log_probs.columns)) if weight]
        divergences = cs_divergences(log_probs.student, log_probs.teacher,
                                     [lines for _, _, lines in wanted])
        return {name: self.loss_weight * weight * lines.mean(divergence)
                for (name, weight, lines), divergence in zip(wanted, divergences)}

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, inter_weight={self.inter_weight}, '
                f'intra_weight={self.intra_weight}')
