from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmmtl.registry import MODELS

from . import cs_kernel
from .distill_utils import (
    BaseLogitDistillLoss,
    LogProbs,
    check_binary,
    float32_context,
    match_teacher_size,
    upcast,
)

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
# underflowed products; the loss is then computed in log space instead.
_SAFE_SUM = 1e-25


def _softmax(logits: Tensor, dim: int, scale: float) -> Tensor:
    """``softmax(logits * scale, dim)`` in a new tensor (fewer passes than torch's
    softmax along a middle dim on CPU)."""
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    probs = (shifted.mul_(scale) if scale != 1 else shifted).exp_()
    return probs.div_(probs.sum(dim=dim, keepdim=True))


class _CSSums(torch.autograd.Function):
    """The four sums of the CS terms, in one pass, with a hand-written backward.

    From student logits ``x`` and teacher probabilities ``q`` of shape
    (N, A, B), with ``p = softmax(x / tau, class_dim)``: ``sum p^2`` and
    ``sum p*q`` along ``class_dim`` (one per row, the inter term) and along
    the two other dims (one per column, the intra term), all with kept dims.
    The backward applies the softmax's Jacobian once, in place, instead of
    differentiating a dozen elementwise ops: about half the time and memory
    traffic of the autograd version on CPU.
    """

    @staticmethod
    def forward(ctx, x: Tensor, q: Tensor, class_dim: int, tau: float) -> Tuple[Tensor, ...]:
        col_dims = tuple(d for d in range(3) if d != class_dim)
        p = _softmax(x, class_dim, 1 / tau)
        p_sq, p_q = p * p, p * q
        ctx.save_for_backward(p, q)
        ctx.class_dim, ctx.tau = class_dim, tau
        return (p_sq.sum(class_dim, keepdim=True), p_q.sum(class_dim, keepdim=True),
                p_sq.sum(col_dims, keepdim=True), p_q.sum(col_dims, keepdim=True))

    @staticmethod
    def backward(ctx, grad_sq_rows: Tensor, grad_cross_rows: Tensor, grad_sq_cols: Tensor,
                 grad_cross_cols: Tensor) -> Tuple[Optional[Tensor], None, None, None]:
        p, q = ctx.saved_tensors
        # g = d/dp of the sums; through softmax(x / tau): p * (g - sum_class p*g) / tau.
        grad = (grad_sq_rows + grad_sq_cols).mul_(2 / ctx.tau).mul_(p)
        grad.addcmul_(q, (grad_cross_rows + grad_cross_cols).div_(ctx.tau)).mul_(p)
        return grad.addcmul_(p, grad.sum(ctx.class_dim, keepdim=True), value=-1), None, None, None


def fused_cs_divergence(student_logits: Tensor, teacher_logits: Tensor, class_dim: int,
                        tau: float, zero_class: bool = False) -> Optional[Tuple[Tensor, Tensor]]:
    """Mean CS divergence of the rows and of the columns, from logits.

    Args:
        student_logits, teacher_logits: (N, A, B) float logits; rows are
            distributions ``softmax(logits / tau)`` along ``class_dim``.
        class_dim: 1 or 2.
        tau: Temperature.
        zero_class: With ``class_dim=1``, one more class of logit 0 (the
            ``binary`` mode's ``[sigmoid(x), 1 - sigmoid(x)]``).

    Returns:
        ``(mean over rows, mean over columns)``, or None if a sum underflows
        (extreme logits), in which case the caller computes in log space.
        Float32 CPU inputs go through the compiled kernel (:mod:`.cs_kernel`)
        when it is built, others through the torch ops below.
    """
    if cs_kernel.use_kernel(student_logits, teacher_logits):
        return cs_kernel.cs_terms(student_logits, teacher_logits, class_dim, tau,
                                  _SAFE_SUM, zero_class)
    if zero_class:  # [x, 0] along the classes
        student_logits = F.pad(student_logits, (0, 0, 0, 1))
        teacher_logits = F.pad(teacher_logits, (0, 0, 0, 1))
    with torch.no_grad():
        q = _softmax(teacher_logits, class_dim, 1 / tau)
        q_sq = q * q
        col_dims = tuple(d for d in range(3) if d != class_dim)
        teacher_rows = q_sq.sum(class_dim, keepdim=True)
        teacher_cols = q_sq.sum(col_dims, keepdim=True)
    sq_rows, cross_rows, sq_cols, cross_cols = _CSSums.apply(
        student_logits, q, class_dim, tau)
    smallest = torch.stack([sums.detach().min() for sums in
                            (cross_rows, sq_cols, cross_cols, teacher_rows, teacher_cols)])
    if not bool((smallest >= _SAFE_SUM).all()):
        return None
    rows = 0.5 * (sq_rows.log() + teacher_rows.log()) - cross_rows.log()
    cols = 0.5 * (sq_cols.log() + teacher_cols.log()) - cross_cols.log()
    return rows.mean(), cols.mean()


@MODELS.register_module()
class CSDivergenceLoss(BaseLogitDistillLoss):
    """KDAM's Cauchy-Schwarz distillation loss (paper Eq. 5-6).

    From the ``[R, K]`` probability matrices ``P_S``, ``P_T`` of one task
    (see :mod:`mmmtl.models.losses.distill_utils` for the modes):

    - ``inter = inter_weight * mean_r D_CS(P_S[r, :], P_T[r, :])``
    - ``intra = intra_weight * mean_k D_CS(P_S[:, k], P_T[:, k])``

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

    def forward(self, student_logits: Tensor, teacher_logits: Tensor,
                valid_mask: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Weighted ``inter`` / ``intra`` terms (see the class doc).

        Without a mask the terms come from :func:`fused_cs_divergence`; masked
        inputs and underflowing sums take the log-space path of the base class.
        """
        if valid_mask is None:
            with float32_context(student_logits.device.type):
                terms = self._fused_terms(student_logits, teacher_logits)
            if terms is not None:
                return terms
        return super().forward(student_logits, teacher_logits, valid_mask)

    def _fused_terms(self, student_logits: Tensor,
                     teacher_logits: Tensor) -> Optional[Dict[str, Tensor]]:
        teacher_logits = match_teacher_size(student_logits, upcast(teacher_logits))
        student_logits = upcast(student_logits)
        num, channels = student_logits.shape[:2]
        student = student_logits.reshape(num, channels, -1)
        teacher = teacher_logits.reshape(num, channels, -1)
        class_dim = 2 if self.mode == 'spatial' else 1
        if self.mode == 'binary':  # [sigmoid(x), 1 - sigmoid(x)] = softmax([x, 0])
            check_binary(channels)
        means = fused_cs_divergence(student, teacher, class_dim, self.tau,
                                    zero_class=self.mode == 'binary')
        if means is None:
            return None
        terms = {}
        for name, weight, mean in zip(('inter', 'intra'), (self.inter_weight,
                                                           self.intra_weight), means):
            factor = self.loss_weight * weight
            if factor:
                terms[name] = mean if factor == 1 else factor * mean
        return terms

    def compute(self, log_probs: LogProbs) -> Dict[str, Tensor]:
        wanted = [(name, weight, rows) for name, weight, rows in (
            ('inter', self.inter_weight, True), ('intra', self.intra_weight, False)) if weight]
        terms = {}
        for name, weight, rows in wanted:
            student, teacher, dims = log_probs.lines(rows)
            divergence = log_cs_divergence(student, teacher, dim=dims)
            terms[name] = self.loss_weight * weight * divergence.mean()
        return terms

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, inter_weight={self.inter_weight}, '
                f'intra_weight={self.intra_weight}')
