"""The compiled CPU kernel of :class:`CSDivergenceLoss` (``csrc/cs_softmax_sums.cpp``).

It is built by ``pip install --no-build-isolation -e .`` (see ``setup.py``)
and used for float32 CPU tensors: one call computes both softmaxes, the CS
sums and the two mean divergences, one call their gradient, both wrapped in
an autograd function written in C++ (no Python in either pass). In the
channel layout the forward keeps no probabilities, only each pixel's softmax
max and 1 / sum; the backward recomputes them from the logits. The binary
mode has its own workers (two sigmoids per pixel, nothing padded). Every
worker exists for several instruction sets (AVX-512, AVX2, baseline on
x86-64); the best one the CPU runs is used (:func:`isa`). CUDA, float64
and installs without the kernel take the PyTorch path of
:func:`fused_cs_divergence`, which computes the same values. Set
``MMMTL_CS_KERNEL=0`` to use the PyTorch path everywhere (e.g. to compare).
"""
import os
from typing import List, Optional, Tuple

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


def isa() -> Optional[str]:
    """Instruction set of the workers in use (``'avx512'``, ``'avx2'``,
    ``'baseline'``), None without the kernel."""
    return _kernel.isa() if _kernel is not None else None


def available_isas() -> List[str]:
    """Instruction sets this CPU runs, best first (empty without the kernel)."""
    return list(_kernel.available_isas()) if _kernel is not None else []


def use_isa(name: str) -> str:
    """Use the workers of ``name`` (one of :func:`available_isas`); returns
    the previous one. For tests and comparisons: the best is the default."""
    if _kernel is None:
        raise RuntimeError('cs_kernel.use_isa: the CS kernel is not built.')
    return _kernel.use_isa(name)


def cs_terms(student_logits: Tensor, teacher_logits: Tensor, class_dim: int, tau: float,
             safe_sum: float, zero_class: bool = False) -> Optional[Tuple[Tensor, Tensor]]:
    """Mean CS divergence of the rows and of the columns (see :func:`fused_cs_divergence`).

    Args:
        student_logits, teacher_logits: (N, A, B) float32 CPU logits; no
            gradient flows to the teacher.
        class_dim: 1 or 2, the dim of the softmax.
        tau: Temperature.
        safe_sum: Smallest sum trusted in float32.
        zero_class: Append a class of logit 0 along dim 1 (``binary`` mode:
            ``[sigmoid(x), 1 - sigmoid(x)]`` from (N, 1, B) logits).

    Returns:
        ``(inter, intra)`` scalars, or None if a sum is below ``safe_sum`` or
        not finite (the caller then computes in log space).
    """
    inter, intra, ok = _kernel.cs_terms(student_logits, teacher_logits, class_dim, 1 / tau,
                                        safe_sum, zero_class)
    return (inter, intra) if ok else None
