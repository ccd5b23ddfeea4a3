"""The probability matrices of one task, per mode, and what the losses share.

A distillation loss compares the student's and the teacher's ``[R, K]``
matrices ``P_S``, ``P_T`` of one task, made from their (N, C, H, W) logits
divided by the temperature τ (paper Eq. 3). A *row* is a distribution (the
softmax runs along it); *inter* terms average over the rows, *intra* terms
over the columns (Eq. 5-6). The matrices are held as (N, A, B) log-probabilities:

============  ==================================  ================================  ==========
mode          row                                 column                            (N, A, B)
============  ==================================  ================================  ==========
``channel``   a pixel: its C class probabilities  a class over the N·H·W pixels     (N, C, HW)
``binary``    a pixel: ``[σ(x/τ), 1 − σ(x/τ)]``   σ or 1 − σ over the N·H·W pixels  (N, 2, HW)
``spatial``   a map (one channel of one image):   a location over the N·C maps      (N, C, HW)
              its H·W locations' probabilities
============  ==================================  ================================  ==========

``channel`` suits label maps, ``binary`` 1-channel logits (edges), ``spatial``
regression maps (depth, normals: a softmax over one channel is constant). A
validity mask removes pixels: their rows (``channel``, ``binary``) or their
locations (``spatial``: each map's softmax runs over its valid locations).
Lines without a valid entry leave the means; if no pixel is valid, every term
is 0 with zero gradient. Masks act through ``torch.where`` (nothing waits for
the device). Terms are computed in float32 (float64 stays) under autocast.
"""
from abc import ABCMeta, abstractmethod
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .lines import Lines, batch_group

DISTILL_MODES = ('channel', 'binary', 'spatial')


def _check_logits(student: Tensor, teacher: Tensor, mode: str) -> None:
    if student.dim() != 4 or teacher.dim() != 4 or student.shape[:2] != teacher.shape[:2]:
        raise ValueError('Distillation expects (N, C, H, W) logits of the same batch and '
                         f'channel sizes, got student {tuple(student.shape)} and teacher '
                         f'{tuple(teacher.shape)}.')
    if mode == 'binary' and student.shape[1] != 1:
        raise ValueError(f"mode='binary' needs 1-channel logits, got {student.shape[1]} "
                         "channels; use mode='channel' for multi-channel outputs.")
    if mode == 'channel' and student.shape[1] == 1:
        raise ValueError("mode='channel' on 1-channel logits distils nothing (a softmax over "
                         "one class is constant); use mode='binary' for a logit per pixel "
                         "(e.g. edges) or mode='spatial' for a regression map (e.g. depth).")


def _flat_mask(valid_mask: Tensor, logits: Tensor) -> Tensor:
    """(N, H, W) / (N, 1, H, W) mask -> (N, 1, H*W) bool at the logits' size (nearest)."""
    if valid_mask.dim() == 4 and valid_mask.shape[1] == 1:
        valid_mask = valid_mask[:, 0]
    if valid_mask.dim() != 3 or valid_mask.shape[0] != logits.shape[0]:
        raise ValueError(f'valid_mask must be (N, H, W) or (N, 1, H, W) for logits of shape '
                         f'{tuple(logits.shape)}, got {tuple(valid_mask.shape)}.')
    if valid_mask.shape[1:] != logits.shape[2:]:
        valid_mask = F.interpolate(valid_mask[:, None].float(), logits.shape[2:])[:, 0]
    return valid_mask.to(logits.device, torch.bool).flatten(1)[:, None]


class BaseDistillLoss(nn.Module, metaclass=ABCMeta):
    """Options and inputs of a logit-distillation loss.

    Args:
        mode: ``'channel'``, ``'binary'`` or ``'spatial'`` (module doc).
        tau: Temperature dividing the logits.
        loss_weight: Factor on every returned term.
        ignore_invalid: If True the distiller passes the task's validity mask
            and masked pixels take no part; False (default, as the paper): all do.
        global_batch: Under DDP, the matrices span the images of all ranks, as
            one process on the whole batch (default; logits of one size on
            every rank); False: each rank's own.
    """
    is_distillation_loss = True  # it compares two predictions: TaskLoss refuses it

    def __init__(self, mode: str = 'channel', tau: float = 1.0, loss_weight: float = 1.0,
                 ignore_invalid: bool = False, global_batch: bool = True) -> None:
        super().__init__()
        if mode not in DISTILL_MODES:
            raise ValueError(f'{type(self).__name__}: mode must be one of {DISTILL_MODES}, '
                             f'got {mode!r}.')
        if tau <= 0:
            raise ValueError(f'{type(self).__name__}: tau must be > 0, got {tau}.')
        self.mode, self.tau, self.loss_weight = mode, float(tau), float(loss_weight)
        self.ignore_invalid, self.global_batch = ignore_invalid, global_batch

    def forward(self, student_logits: Tensor, teacher_logits: Tensor,
                valid_mask: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Named, weighted terms of one task from (N, C, H, W) student logits,
        (N, C, h, w) teacher logits (resized bilinearly to (H, W), no gradient)
        and an optional (N, H, W) / (N, 1, H, W) bool mask of the pixels to use."""
        _check_logits(student_logits, teacher_logits, self.mode)
        with torch.autocast(student_logits.device.type, enabled=False):
            teacher_logits = teacher_logits.detach()
            if teacher_logits.shape[2:] != student_logits.shape[2:]:
                teacher_logits = F.interpolate(teacher_logits, student_logits.shape[2:],
                                               mode='bilinear', align_corners=False)
            valid = None if valid_mask is None else _flat_mask(valid_mask, student_logits)
            row_dim, group = 2 if self.mode == 'spatial' else 1, batch_group(self.global_batch)
            rows, columns = Lines((row_dim, ), valid, group), Lines((0, 3 - row_dim), valid, group)
            log_p, log_q = (rows.log_softmax(self._layout(logits))
                            for logits in (student_logits, teacher_logits))
            return self.terms(log_p, log_q, rows, columns)

    def _layout(self, logits: Tensor) -> Tensor:
        """(N, C, H, W) logits -> (N, A, B) logits / tau in float32 (float64 stays)."""
        logits = logits.flatten(2)
        logits = logits if logits.dtype == torch.float64 else logits.float()
        logits = logits if self.tau == 1 else logits / self.tau
        return F.pad(logits, (0, 0, 0, 1)) if self.mode == 'binary' else logits  # [x, 0]

    @abstractmethod
    def term_names(self) -> Tuple[str, ...]:
        """Names of the returned terms."""

    @abstractmethod
    def terms(self, log_p: Tensor, log_q: Tensor, rows: Lines,
              columns: Lines) -> Dict[str, Tensor]:
        """Weighted terms from the student's and the teacher's log-probabilities."""

    def extra_repr(self) -> str:
        return (f'mode={self.mode!r}, tau={self.tau}, loss_weight={self.loss_weight}, '
                f'ignore_invalid={self.ignore_invalid}, global_batch={self.global_batch}')


class InterIntraLoss(BaseDistillLoss):
    """``inter = loss_weight * inter_weight * scale * mean_r D(P_S[r, :], P_T[r, :])`` and
    ``intra = loss_weight * intra_weight * scale * mean_k D(P_S[:, k], P_T[:, k])``
    for a divergence D of two lines; terms of weight 0 are neither computed nor returned."""

    def __init__(self, mode: str = 'channel', tau: float = 1.0, inter_weight: float = 1.0,
                 intra_weight: float = 1.0, loss_weight: float = 1.0,
                 ignore_invalid: bool = False, global_batch: bool = True) -> None:
        super().__init__(mode, tau, loss_weight, ignore_invalid, global_batch)
        if inter_weight == 0 and intra_weight == 0:
            raise ValueError(f'{type(self).__name__}: inter_weight and intra_weight are both 0.')
        self.inter_weight, self.intra_weight = float(inter_weight), float(intra_weight)
        self.scale = 1.  # factor of both terms besides the weights

    def term_names(self) -> Tuple[str, ...]:
        return tuple(name for name, weight in (('inter', self.inter_weight),
                                               ('intra', self.intra_weight)) if weight)

    def line_inputs(self, log_p: Tensor, log_q: Tensor) -> Tuple[Tensor, ...]:
        """What :meth:`divergence` reduces along the rows and the columns alike
        (computed once for both)."""
        return log_p, log_q

    @abstractmethod
    def divergence(self, *inputs: Tensor, lines: Lines) -> Tensor:
        """One value per line (kept dims) from :meth:`line_inputs`."""

    def terms(self, log_p: Tensor, log_q: Tensor, rows: Lines,
              columns: Lines) -> Dict[str, Tensor]:
        inputs = self.line_inputs(log_p, log_q)
        return {name: self.loss_weight * weight * self.scale
                * lines.mean(self.divergence(*inputs, lines=lines))
                for name, weight, lines in (('inter', self.inter_weight, rows),
                                            ('intra', self.intra_weight, columns)) if weight}

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, inter_weight={self.inter_weight}, '
                f'intra_weight={self.intra_weight}')
