"""The compiled CPU kernel of :class:`CSDivergenceLoss` (``csrc/cs_softmax_sums.cpp``).

It is built by ``pip install --no-build-isolation -e .`` (see ``setup.py``)
and used for float32 CPU tensors: one call computes both softmaxes, the CS
sums and the two mean divergences, one call their gradient. In the channel
layout the forward keeps no probabilities, only each pixel's softmax max and
1 / sum; the backward recomputes them from the logits. CUDA, float64
and installs without the kernel take the PyTorch path of
:func:`fused_cs_divergence`, which computes the same values. Set
``MMMTL_CS_KERNEL=0`` to use the PyTorch path everywhere (e.g. to compare).
"""
import os
from typing import Optional, Tuple

import torch
from torch import Tensor

try:
    from . import _cs_softmax_sums as _kernel
except ImportError:  # not built: the PyTorch path is used
    _kernel = None


def kernel_built() -> bool:
    """Whether the compiled kernel is importable."""
    return _kernel is not None


def kernel_enabled() -> bool:
    """Built and not switched off by ``MMMTL_CS_KERNEL=0``."""
    return _kernel is not None and os.getenv('MMMTL_CS_KERNEL', '1') != '0'


def use_kernel(*tensors: Tensor) -> bool:
    """Whether the kernel handles these tensors (all float32 on the CPU)."""
    return kernel_enabled() and all(
        t.device.type == 'cpu' and t.dtype == torch.float32 for t in tensors)


class _CSTerms(torch.autograd.Function):
    """``inter, intra`` of (N, A, B) student and teacher logits; gradient to the student."""

    @staticmethod
    def forward(ctx, student: Tensor, teacher: Tensor, class_dim: int, tau: float,
                safe_sum: float) -> Tuple[Tensor, Tensor, Tensor]:
        inter, intra, ok, saved = _kernel.cs_terms_forward(
            student.contiguous(), teacher.contiguous(), class_dim, 1 / tau, safe_sum)
        ctx.save_for_backward(*saved)
        ctx.class_dim, ctx.tau = class_dim, tau
        ok = torch.tensor(ok)
        ctx.mark_non_differentiable(ok)
        return inter, intra, ok

    @staticmethod
    def backward(ctx, grad_inter: Optional[Tensor], grad_intra: Optional[Tensor],
                 grad_ok: Optional[Tensor]) -> tuple:
        grad = _kernel.cs_terms_backward(
            list(ctx.saved_tensors), 0. if grad_inter is None else float(grad_inter),
            0. if grad_intra is None else float(grad_intra), ctx.class_dim, 1 / ctx.tau)
        return grad, None, None, None, None


def cs_terms(student_logits: Tensor, teacher_logits: Tensor, class_dim: int, tau: float,
             safe_sum: float) -> Optional[Tuple[Tensor, Tensor]]:
    """Mean CS divergence of the rows and of the columns (see :func:`fused_cs_divergence`).

    Args:
        student_logits, teacher_logits: (N, A, B) float32 CPU logits; no
            gradient flows to the teacher.
        class_dim: 1 or 2, the dim of the softmax.
        tau: Temperature.
        safe_sum: Smallest sum trusted in float32.

    Returns:
        ``(inter, intra)`` scalars, or None if a sum is below ``safe_sum`` or
        not finite (the caller then computes in log space).
    """
    inter, intra, ok = _CSTerms.apply(student_logits, teacher_logits, class_dim, tau, safe_sum)
    if not bool(ok):
        return None
    return inter, intra
