"""Shared pieces of the logit-distillation losses (CS, KL, DIST).

Every distillation loss compares two non-negative ``[R, K]`` matrices built
from the student's and the teacher's logits of one task. They are built in
log space (log-probabilities), so underflowing probabilities stay exact:

- ``channel``: rows are the N*H*W pixels, columns the C classes,
  ``log softmax(logits / tau)`` over the classes.
- ``binary``: 1-channel logits ``x``; rows are the pixels, the two columns
  ``[log sigmoid(x / tau), log(1 - sigmoid(x / tau))]``.
- ``spatial``: rows are the N*C maps, columns the H*W locations,
  ``log softmax(map / tau)`` over the locations.

Pixels excluded by a validity mask are removed (``channel`` / ``binary``) or
get log-probability ``-inf`` (``spatial``, whose rows are whole maps).
"""
from abc import ABCMeta, abstractmethod
from contextlib import nullcontext
from typing import Dict, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmmtl.utils.tasks import IGNORE_INDEX, get_task_spec

DISTILL_MODES = ('channel', 'binary', 'spatial')


def check_mode(mode: str, owner: str) -> str:
    """Return ``mode`` or raise a ValueError naming ``owner``."""
    if mode not in DISTILL_MODES:
        raise ValueError(f'{owner}: mode must be one of {DISTILL_MODES}, got {mode!r}.')
    return mode


def match_teacher_size(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """Resize (bilinear) the teacher's (N, C, h, w) logits to the student's size.

    Raises a ValueError if batch or channel counts differ.
    """
    if student_logits.dim() != 4 or teacher_logits.dim() != 4:
        raise ValueError('Distillation expects (N, C, H, W) logits, got student '
                         f'{tuple(student_logits.shape)} and teacher '
                         f'{tuple(teacher_logits.shape)}.')
    if student_logits.shape[:2] != teacher_logits.shape[:2]:
        raise ValueError('Student and teacher logits must have the same batch and channel '
                         f'sizes, got {tuple(student_logits.shape)} and '
                         f'{tuple(teacher_logits.shape)}.')
    if student_logits.shape[2:] != teacher_logits.shape[2:]:
        teacher_logits = F.interpolate(
            teacher_logits, size=student_logits.shape[2:], mode='bilinear',
            align_corners=False)
    return teacher_logits


def _flat_mask(valid_mask: Tensor, logits: Tensor) -> Tensor:
    """(N, H, W) or (N, 1, H, W) mask -> (N, H, W) bool at the logits' size."""
    if valid_mask.dim() == 4:
        if valid_mask.shape[1] != 1:
            raise ValueError('valid_mask must be (N, H, W) or (N, 1, H, W), got '
                             f'{tuple(valid_mask.shape)}.')
        valid_mask = valid_mask[:, 0]
    if valid_mask.dim() != 3 or valid_mask.shape[0] != logits.shape[0]:
        raise ValueError(f'valid_mask of shape {tuple(valid_mask.shape)} does not fit '
                         f'logits of shape {tuple(logits.shape)}.')
    if valid_mask.shape[1:] != logits.shape[2:]:
        valid_mask = F.interpolate(
            valid_mask[:, None].float(), size=logits.shape[2:], mode='nearest')[:, 0]
    return valid_mask.to(device=logits.device, dtype=torch.bool)


def float32_context(device_type: str):
    """Autocast switched off on ``device_type`` (a no-op context where it is off)."""
    if torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type=device_type, enabled=False)
    return nullcontext()


def upcast(tensor: Tensor) -> Tensor:
    """Half / bf16 / float32 -> float32; float64 stays float64."""
    return tensor if tensor.dtype == torch.float64 else tensor.float()


def log_prob_matrix(logits: Tensor, mode: str, tau: float,
                    valid_mask: Optional[Tensor] = None) -> Tensor:
    """Log-probability matrix ``[R, K]`` of (N, C, H, W) logits (float32 or float64).

    Args:
        logits: (N, C, H, W) logits; half / bf16 are computed in float32.
        mode: ``'channel'``, ``'binary'`` (C must be 1) or ``'spatial'``.
        tau: Temperature; logits are divided by it.
        valid_mask: Optional (N, H, W) / (N, 1, H, W) bool mask of pixels to
            keep (resized with nearest neighbour to the logits' size).

    Returns:
        ``channel``: (M, C) with M the number of kept pixels; ``binary``:
        (M, 2); ``spatial``: (N*C, H*W) with ``-inf`` at masked locations.
    """
    check_mode(mode, 'log_prob_matrix')
    logits = upcast(logits) / tau
    num, channels, height, width = logits.shape
    mask = _flat_mask(valid_mask, logits) if valid_mask is not None else None
    if mode == 'spatial':
        maps = logits.reshape(num * channels, height * width)
        if mask is None:
            return maps.log_softmax(dim=1)
        keep = mask.reshape(num, 1, height * width).expand(num, channels, -1)
        keep = keep.reshape(num * channels, height * width)
        # Rows without any kept location are made finite for the softmax and
        # set to -inf afterwards (masked_fill passes no gradient there).
        empty_rows = ~keep.any(dim=1, keepdim=True)
        maps = maps.masked_fill(~keep, float('-inf')).masked_fill(empty_rows, 0.)
        return maps.log_softmax(dim=1).masked_fill(~keep, float('-inf'))
    pixels = logits.permute(0, 2, 3, 1).reshape(-1, channels)
    if mask is not None:
        pixels = pixels[mask.reshape(-1)]
    if mode == 'binary':
        check_binary(channels)
        return torch.cat([F.logsigmoid(pixels), F.logsigmoid(-pixels)], dim=1)
    return pixels.log_softmax(dim=1)


class LogProbs(NamedTuple):
    """Student and teacher log-probabilities of one task, as 3-d tensors.

    Each row of the ``[R, K]`` matrix is a distribution along ``class_dim``;
    the rows are the indices of the two other dims and the columns the
    indices of ``class_dim``. Unmasked inputs keep the logits' memory layout
    (``channel`` / ``binary``: (N, K, H*W) with ``class_dim=1``; ``spatial``:
    (N, C, H*W) with ``class_dim=2``), which avoids transposed copies. Masked
    inputs are the (1, R, K) matrix of :func:`log_prob_matrix`
    (``class_dim=2``), whose fully masked rows / columns are dropped by
    :meth:`lines`.
    """
    student: Tensor
    teacher: Tensor
    class_dim: int
    masked: bool

    def lines(self, rows: bool) -> Tuple[Tensor, Tensor, Union[int, Tuple[int, ...]]]:
        """(student, teacher, dims): reduce ``dims`` for one value per row
        (``rows=True``, the inter term) or per column (the intra term)."""
        dims = self.class_dim if rows else tuple(d for d in range(3) if d != self.class_dim)
        if not self.masked:
            return self.student, self.teacher, dims
        student, teacher = drop_empty_lines(self.student[0], self.teacher[0], 1 if rows else 0)
        return student[None], teacher[None], dims


def log_prob_pair(student_logits: Tensor, teacher_logits: Tensor, mode: str, tau: float,
                  valid_mask: Optional[Tensor] = None) -> LogProbs:
    """Student and teacher log-probabilities of one task (see :class:`LogProbs`)."""
    teacher_logits = match_teacher_size(student_logits, upcast(teacher_logits))
    if valid_mask is not None:
        return LogProbs(log_prob_matrix(student_logits, mode, tau, valid_mask)[None],
                        log_prob_matrix(teacher_logits, mode, tau, valid_mask)[None], 2, True)
    return LogProbs(_log_prob_blocks(student_logits, mode, tau),
                    _log_prob_blocks(teacher_logits, mode, tau),
                    2 if mode == 'spatial' else 1, False)


def _log_prob_blocks(logits: Tensor, mode: str, tau: float) -> Tensor:
    """Unmasked (N, K, H*W) (``channel`` / ``binary``) or (N, C, H*W) (``spatial``)."""
    num, channels = logits.shape[:2]
    flat = upcast(logits).reshape(num, channels, -1) / tau
    if mode == 'spatial':
        return flat.log_softmax(dim=2)
    if mode == 'binary':
        check_binary(channels)
        return torch.cat([F.logsigmoid(flat), F.logsigmoid(-flat)], dim=1)
    return flat.log_softmax(dim=1)


def check_binary(channels: int) -> None:
    if channels != 1:
        raise ValueError(f"mode='binary' needs 1-channel logits, got {channels} channels; "
                         "use mode='channel' for multi-channel outputs.")


def valid_mask_from_gt(task: str, gt: Tensor) -> Tensor:
    """(N, C, H, W) ground truth of ``task`` -> (N, H, W) bool mask of valid pixels.

    Label / binary maps: not 255; depth: finite and > 0; normals: not the
    zero vector.
    """
    kind = get_task_spec(task).kind
    if kind in ('label', 'binary'):
        return gt[:, 0] != IGNORE_INDEX
    if kind == 'depth':
        return torch.isfinite(gt[:, 0]) & (gt[:, 0] > 0)
    return gt.abs().sum(dim=1) > 0


def drop_empty_lines(student_lp: Tensor, teacher_lp: Tensor,
                     dim: int) -> Tuple[Tensor, Tensor]:
    """Keep the lines (rows for ``dim=1``, columns for ``dim=0``) reduced along
    ``dim`` that hold a finite entry, i.e. drop fully masked ones."""
    keep = torch.isfinite(student_lp).any(dim=dim)
    if bool(keep.all()):
        return student_lp, teacher_lp
    if dim == 1:
        return student_lp[keep], teacher_lp[keep]
    return student_lp[:, keep], teacher_lp[:, keep]


class BaseLogitDistillLoss(nn.Module, metaclass=ABCMeta):
    """Common options and input handling of the logit-distillation losses.

    Subclasses implement :meth:`compute` on the student's and teacher's
    log-probabilities (:class:`LogProbs`) and return named, weighted terms.

    Args:
        mode: ``'channel'``, ``'binary'`` or ``'spatial'`` (see module doc).
        tau: Temperature dividing the logits.
        loss_weight: Factor on every returned term.
        ignore_invalid: If True, the distiller passes the task's validity
            mask (ground truth not ignore / invalid) and masked pixels take no
            part; if False (default, as the paper) every pixel does.
    """

    def __init__(self, mode: str = 'channel', tau: float = 1.0, loss_weight: float = 1.0,
                 ignore_invalid: bool = False) -> None:
        super().__init__()
        self.mode = check_mode(mode, type(self).__name__)
        if tau <= 0:
            raise ValueError(f'{type(self).__name__}: tau must be > 0, got {tau}.')
        self.tau = float(tau)
        self.loss_weight = float(loss_weight)
        self.ignore_invalid = ignore_invalid

    def forward(self, student_logits: Tensor, teacher_logits: Tensor,
                valid_mask: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Distillation terms of one task.

        Args:
            student_logits: (N, C, H, W) student logits.
            teacher_logits: (N, C, h, w) teacher logits, resized bilinearly
                to (H, W) if needed; no gradient flows to them in training.
            valid_mask: Optional (N, H, W) bool mask of pixels to use.

        Returns:
            Named scalar terms, already multiplied by their weights.
        """
        # Computed in float32 whatever the autocast dtype of the logits.
        with float32_context(student_logits.device.type):
            log_probs = log_prob_pair(
                student_logits, teacher_logits, self.mode, self.tau, valid_mask)
            if log_probs.student.numel() == 0:  # every pixel masked: nothing to distil
                zero = student_logits.float().sum() * 0.
                return {name: zero for name in self.term_names()}
            return self.compute(log_probs)

    @abstractmethod
    def term_names(self) -> Tuple[str, ...]:
        """Names of the returned terms."""

    @abstractmethod
    def compute(self, log_probs: LogProbs) -> Dict[str, Tensor]:
        """Weighted terms from the log-probabilities of student and teacher."""

    def extra_repr(self) -> str:
        return (f'mode={self.mode!r}, tau={self.tau}, loss_weight={self.loss_weight}, '
                f'ignore_invalid={self.ignore_invalid}')
