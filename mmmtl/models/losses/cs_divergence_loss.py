from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmmtl.registry import MODELS

from .distill_utils import (
    LN2,
    LOG2E,
    BaseLogitDistillLoss,
    Lines,
    LogitPair,
    log2_normalisers,
    log2_probs,
    log2_probs_into,
    scratch_tensors,
)


def _local_log_sums(student_lp: Tensor, teacher_lp: Tensor,
                    lines: Sequence[Lines]) -> List[Tensor]:
    """This rank's ``log2 sum p*q`` over each of ``lines``, then ``log2 sum p^2``,
    from base-2 log-probabilities, through autograd: what :class:`_LocalLogSums`
    computes, for its second derivatives."""
    log_pq = [line.local_log2sumexp2(student_lp + teacher_lp) for line in lines]
    # log2(p^2) = 2 log2 p; a row of p is a distribution: its largest p^2 is >= 1/K^2.
    log_pp = [line.local_log2sumexp2(student_lp, scale=2., peak_at_most_0=line.distributions)
              for line in lines]
    return log_pq + log_pp


class _LocalLogSums(torch.autograd.Function):
    """From the (N, A, B) logits of student and teacher: :func:`_local_log_sums`,
    then this rank's ``log2 sum q^2`` (no gradient), in scratch tensors
    (:func:`scratch_tensors`) and with a backward that keeps less memory. The
    rows' sums of ``p^2`` come from the ``exp`` that normalises the rows.

    Autograd would keep ``log2 p``, ``log2 q``, ``log2 p + log2 q`` and
    ``2 log2 p`` (four tensors of the logits' size) for the backward. This
    keeps the logits (alive anyway) and the rows' normalisers, recomputes
    ``log2 p`` and ``log2 q`` in scratch tensors (:func:`log2_probs_into`):
    the gradient of a ``log2 sum exp2`` is the softmax along the line, so
    ``g = d/d log2 p = g_pq * softmax(log2 p + log2 q) + 2 * g_pp *
    softmax(2 log2 p)``, and through the softmax of the rows ``d/dx = LOG2E
    * (g - p * sum_row g)``. Second derivatives (``create_graph``) go through
    autograd on :func:`log2_probs` and :func:`_local_log_sums`.
    """

    @staticmethod
    def forward(ctx, student_logits: Tensor, teacher_logits: Tensor, rows: Lines,
                lines: Tuple[Lines, ...]) -> Tuple[Tensor, ...]:
        student_lp, teacher_lp, scratch = scratch_tensors(student_logits, 3)
        norms, log_squares = [], []
        for logits, log_probs in ((student_logits, student_lp), (teacher_logits, teacher_lp)):
            *norm, row_squares = log2_normalisers(logits, rows, scratch, squares=True)
            log2_probs_into(logits, norm, log_probs)
            norms.append(norm)
            # log2 sum p^2 = log2 sum exp2(2 log2 p): the rows' from the normalisers
            log_squares.append([row_squares if line is rows else line.local_log2sumexp2(
                log_probs, out=scratch, scale=2.) for line in lines])
        values = torch.add(student_lp, teacher_lp, out=scratch)  # log2(p q)
        # log2 q is not needed any more: its buffer takes the exps, but the last line's.
        log_sums = [line.local_log2sumexp2(values, out=scratch if line is lines[-1] else teacher_lp)
                    for line in lines] + log_squares[0]
        log_qq = log_squares[1]
        ctx.rows, ctx.lines = rows, lines
        ctx.save_for_backward(student_logits, teacher_logits, *norms[0], *norms[1], *log_sums)
        ctx.mark_non_differentiable(*log_qq)
        return (*log_sums, *log_qq)

    @staticmethod
    def backward(ctx, *grads: Tensor) -> Tuple[Optional[Tensor], None, None, None]:
        student_logits, teacher_logits, *norms = ctx.saved_tensors[:6]
        norms, log_sums = (norms[:2], norms[2:]), ctx.saved_tensors[6:]
        rows, lines = ctx.rows, ctx.lines
        grads = grads[:len(log_sums)]  # not those of log sum q^2
        if torch.is_grad_enabled():  # create_graph: a differentiable backward
            log_probs = [log2_probs(logits, rows) for logits in (student_logits, teacher_logits)]
            grad, = torch.autograd.grad(_local_log_sums(*log_probs, lines), student_logits,
                                        grads, create_graph=True)
            return grad, None, None, None
        student_lp, teacher_lp, values = scratch_tensors(student_logits, 3)
        log2_probs_into(student_logits, norms[0], student_lp)
        log2_probs_into(teacher_logits, norms[1], teacher_lp)
        # g: the softmax along each line times the line's gradient, times LOG2E
        # (the factor of d log2 p / dx); the first one written into grad.
        grad = torch.empty_like(student_lp)  # returned: not a scratch tensor
        torch.add(student_lp, teacher_lp, out=values)  # log2(p q)
        for index, (line, log_sum, line_grad) in enumerate(zip(lines, log_sums, grads)):
            softmax = line.exp2_shifted(values, log_sum, out=grad if index == 0 else values)
            if index == 0:
                grad.mul_(LOG2E * line_grad)
            else:
                grad.addcmul_(softmax, LOG2E * line_grad)
        row_squares = None
        for line, log_sum, line_grad in zip(lines, log_sums[len(lines):], grads[len(lines):]):
            if line is rows:  # below, from p
                row_squares = (log_sum, line_grad)
                continue
            softmax = line.exp2_shifted(student_lp, log_sum, out=values, scale=2.)  # of p^2
            grad.addcmul_(softmax, 2 * LOG2E * line_grad)
        probs = rows.exp2_shifted(student_lp, 0., out=values)  # p; 0 at invalid entries
        if row_squares is not None:  # softmax of 2 log2 p along a row: p^2 / sum p^2
            log_sum, line_grad = row_squares
            factor = torch.mul(probs, (2 * LOG2E) * line_grad * (-log_sum).exp2(),
                               out=student_lp)  # log2 p is not needed any more
            grad.addcmul_(probs, factor)
        # Through the softmax of the rows (over their valid entries).
        return grad.sub_(probs.mul_(grad.sum(rows.dims, keepdim=True))), None, None, None


def cs_divergences(pair: LogitPair, lines: Sequence[Lines]) -> List[Tensor]:
    """Cauchy-Schwarz divergence of every line of the two matrices of ``pair``
    (paper Eq. 4).

    ``D_CS(p, q) = -log(sum p*q / sqrt(sum p^2 * sum q^2))``, from ``log2 p``
    and ``log2 q`` by ``log2 sum exp2`` (a log-sum-exp in base 2), so it is
    exact when ``p`` and ``q`` underflow. It is >= 0, symmetric, 0 iff ``p``
    is proportional to ``q``, and invariant to the scale of either argument.

    Args:
        pair: The student's and teacher's logits and lines of one task.
        lines: The rows and / or the columns of ``pair`` to compare.

    Returns:
        For each of ``lines``, one divergence (in nats) per line (0 for empty
        lines), with kept dims.
    """
    sums = _LocalLogSums.apply(pair.student, pair.teacher, pair.rows, tuple(lines))
    log_pq, log_pp, log_qq = sums[:len(lines)], sums[len(lines):-len(lines)], sums[-len(lines):]
    divergences = []
    for line, *line_sums in zip(lines, log_pq, log_pp, log_qq):
        pq, pp, qq = line.reduce_log2sumexp2(torch.stack(line_sums))
        divergences.append(LN2 * (0.5 * (pp + qq) - pq))
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

    def compute(self, pair: LogitPair) -> Dict[str, Tensor]:
        wanted = [(name, weight, lines) for name, weight, lines in (
            ('inter', self.inter_weight, pair.rows),
            ('intra', self.intra_weight, pair.columns)) if weight]
        divergences = cs_divergences(pair, [lines for _, _, lines in wanted])
        return {name: self.loss_weight * weight * lines.mean(divergence)
                for (name, weight, lines), divergence in zip(wanted, divergences)}

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, inter_weight={self.inter_weight}, '
                f'intra_weight={self.intra_weight}')
