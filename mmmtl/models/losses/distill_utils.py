"""Shared pieces of the logit-distillation losses (CS, KL, DIST).

Every distillation loss compares two ``[R, K]`` matrices of probabilities
built from the student's and the teacher's logits of one task, held as
log-probabilities in (N, A, B) tensors (no copy of the logits' layout):

- ``channel``: rows are the N*H*W pixels, columns the C classes;
  ``log softmax(logits / tau)`` over the classes; tensor (N, C, H*W).
- ``binary``: 1-channel logits ``x``; rows are the pixels, the two columns
  ``[log sigmoid(x / tau), log(1 - sigmoid(x / tau))]``; tensor (N, 2, H*W).
- ``spatial``: rows are the N*C maps, columns the H*W locations;
  ``log softmax(map / tau)`` over the locations; tensor (N, C, H*W).

A validity mask removes pixels: their rows (``channel`` / ``binary``) or
their locations (``spatial``, where each map's softmax then runs over its
valid locations). Lines (rows or columns) left without any valid entry are
dropped from the means; if every pixel is masked, every term is 0 with zero
gradient. Masks act through ``torch.where``, never through boolean indexing,
so nothing waits for the device.

The rows lie within one image; the columns run over the batch. With a
process group (:mod:`.global_batch`) the columns are summed over the ranks
and the means over rows taken over the rows of all ranks.
"""
from abc import ABCMeta, abstractmethod
from contextlib import nullcontext
from typing import Dict, NamedTuple, Optional, Tuple, Union

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmmtl.utils.tasks import IGNORE_INDEX, get_task_spec

from .global_batch import batch_group, logsumexp_over_ranks, max_over_ranks, sum_over_ranks

DISTILL_MODES = ('channel', 'binary', 'spatial')
# exp(x) for x < -87 is below float32's smallest normal number (e^-87.3).
EXP_FLOOR = -87.


def check_mode(mode: str, owner: str) -> str:
    """Return ``mode`` or raise a ValueError naming ``owner``."""
    if mode not in DISTILL_MODES:
        raise ValueError(f'{owner}: mode must be one of {DISTILL_MODES}, got {mode!r}.')
    return mode


def check_channels(mode: str, channels: int) -> None:
    """Raise a ValueError if ``mode`` cannot distil ``channels``-channel logits."""
    if mode == 'binary' and channels != 1:
        raise ValueError(f"mode='binary' needs 1-channel logits, got {channels} channels; "
                         "use mode='channel' for multi-channel outputs.")
    if mode == 'channel' and channels == 1:
        raise ValueError("mode='channel' on 1-channel logits distils nothing (a softmax over "
                         "one class is constant); use mode='binary' for a logit per pixel "
                         "(e.g. edges) or mode='spatial' for a regression map (e.g. depth).")


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


def flat_mask(valid_mask: Tensor, logits: Tensor) -> Tensor:
    """(N, H, W) or (N, 1, H, W) mask -> (N, 1, H*W) bool at the logits' size
    (resized with nearest neighbour if needed)."""
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
    return valid_mask.to(device=logits.device, dtype=torch.bool).reshape(
        logits.shape[0], 1, -1)


def float32_context(device_type: str):
    """Autocast switched off on ``device_type`` (a no-op context where it is off)."""
    if torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type=device_type, enabled=False)
    return nullcontext()


def upcast(tensor: Tensor) -> Tensor:
    """Half / bf16 / float32 -> float32; float64 stays float64."""
    return tensor if tensor.dtype == torch.float64 else tensor.float()


class Lines:
    """The rows or the columns of the ``[R, K]`` matrices of one task.

    Reducing an (N, A, B) matrix tensor over ``dims`` gives one value per
    line (kept dims). Entries where ``valid`` is False take no part; lines
    without a valid entry are *empty*. With a process group, lines that run
    over the batch (``across_batch``: the columns) are reduced over the ranks
    too, and :meth:`mean` over lines within an image (the rows) covers the
    rows of every rank.

    Args:
        dims: Dims reduced for one value per line.
        valid: Bool (N, 1, B) mask of valid entries (broadcast over dim 1),
            or None.
        group: Process group over which the batch is spread, or None.
        across_batch: Whether the lines run over the batch dim.
    """

    def __init__(self, dims: Tuple[int, ...], valid: Optional[Tensor],
                 group: Optional['dist.ProcessGroup'], across_batch: bool) -> None:
        self.dims = dims
        self.valid = valid
        self.group = group if across_batch else None  # reduces lines over ranks
        self.mean_group = None if across_batch else group  # reduces means over ranks
        # Lines with some valid and some invalid entries need masked entries;
        # rows of the channel layout are whole pixels, valid or not.
        self.masks_entries = valid is not None and any(valid.shape[d] > 1 for d in dims)
        self.local_nonempty = None if valid is None else valid.any(dims, keepdim=True)
        self._nonempty = None

    @property
    def nonempty(self) -> Optional[Tensor]:
        """Bool mask of the lines with a valid entry on any rank (None: all)."""
        if self._nonempty is None and self.local_nonempty is not None:
            self._nonempty = self.local_nonempty
            if self.group is not None:
                self._nonempty = max_over_ranks(self._nonempty.float(), self.group).bool()
        return self._nonempty

    def mask(self, tensor: Tensor, fill: float) -> Tensor:
        """``tensor`` with ``fill`` at the invalid entries of partly valid lines."""
        return torch.where(self.valid, tensor, fill) if self.masks_entries else tensor

    def sum(self, *tensors: Tensor) -> Tuple[Tensor, ...]:
        """Sum of the valid entries of every line, for each tensor."""
        sums = torch.stack([self.mask(t, 0.).sum(self.dims, keepdim=True) for t in tensors])
        if self.group is not None:
            sums = sum_over_ranks(sums, self.group)
        return sums.unbind(0)

    def peak(self, *tensors: Tensor, local: bool = False) -> Tuple[Tensor, ...]:
        """Maximum of the valid entries of every line (0 on empty lines), without
        gradient; over all ranks unless ``local``."""
        with torch.no_grad():
            peaks = torch.stack([self.mask(t, float('-inf')).amax(self.dims, keepdim=True)
                                 for t in tensors])
            if self.group is not None and not local:
                peaks = max_over_ranks(peaks, self.group)
            return peaks.nan_to_num(neginf=0.).unbind(0)

    def exp_shifted(self, tensor: Tensor, shift: Union[Tensor, float],
                    out: Optional[Tensor] = None) -> Tensor:
        """``exp(tensor - shift)`` for ``tensor <= shift`` along each line, 0 at
        invalid entries; written into ``out`` (may be ``tensor``) if given,
        which autograd does not follow.

        Exponents are clamped to [-87, 0]: below -87 the result is under
        float32's smallest normal number, negligible next to the line's e^0,
        and many times slower to compute; above 0 are only invalid entries.
        """
        values = torch.sub(tensor, shift, out=out).clamp_(EXP_FLOOR, 0.).exp_()
        if not self.masks_entries:
            return values
        if out is not None:
            return values.masked_fill_(~self.valid, 0.)
        return torch.where(self.valid, values, 0.)

    def local_logsumexp(self, tensor: Tensor, out: Optional[Tensor] = None) -> Tensor:
        """``log sum exp`` of the valid entries of every line, on this rank
        (0 on empty lines); ``out``: scratch memory (see :meth:`exp_shifted`)."""
        peak, = self.peak(tensor, local=True)
        total = self.exp_shifted(tensor, peak, out).sum(self.dims, keepdim=True)
        return peak + torch.where(total > 0, total, 1.).log()

    def reduce_logsumexp(self, local_sums: Tensor) -> Tuple[Tensor, ...]:
        """Stacked results of :meth:`local_logsumexp` -> the log-sums of the
        lines over all ranks (0 on empty lines), unstacked."""
        if self.group is not None:
            local_sums = logsumexp_over_ranks(local_sums, self.local_nonempty, self.group)
        if self.nonempty is not None:
            local_sums = torch.where(self.nonempty, local_sums, 0.)
        return local_sums.unbind(0)

    def logsumexp(self, *tensors: Tensor) -> Tuple[Tensor, ...]:
        """``log sum exp`` of the valid entries of every line (0 on empty lines)."""
        return self.reduce_logsumexp(torch.stack([self.local_logsumexp(t) for t in tensors]))

    def mean(self, values: Tensor) -> Tensor:
        """Mean of per-line ``values`` over the non-empty lines (0 if none)."""
        if self.nonempty is None:
            total, count = values.sum(), values.new_full((), values.numel())
        else:
            nonempty = self.nonempty.expand_as(values)
            total, count = torch.where(nonempty, values, 0.).sum(), nonempty.sum().to(values)
        if self.mean_group is not None:
            total, count = sum_over_ranks(torch.stack([total, count]), self.mean_group)
        return total / count.clamp(min=1)


class LogProbs(NamedTuple):
    """Student and teacher log-probabilities of one task and their lines.

    ``student`` / ``teacher``: (N, A, B) tensors (see the module doc), finite
    everywhere (invalid entries hold values that the lines ignore); a row is
    a distribution along one dim, the rows / columns are :class:`Lines`.
    """
    student: Tensor
    teacher: Tensor
    rows: Lines
    columns: Lines


def log_prob_pair(student_logits: Tensor, teacher_logits: Tensor, mode: str, tau: float,
                  valid_mask: Optional[Tensor] = None,
                  group: Optional['dist.ProcessGroup'] = None) -> LogProbs:
    """Student and teacher log-probabilities of one task (see :class:`LogProbs`).

    Args:
        student_logits: (N, C, H, W) logits, float32 / float64 (half and bf16
            are computed in float32).
        teacher_logits: (N, C, h, w) logits, resized bilinearly to (H, W);
            detached.
        mode: ``'channel'``, ``'binary'`` (C = 1) or ``'spatial'``.
        tau: Temperature dividing the logits.
        valid_mask: Optional (N, H, W) / (N, 1, H, W) bool mask of the pixels
            to use (resized with nearest neighbour to (H, W)).
        group: Process group over which the batch is spread, or None.
    """
    check_channels(mode, student_logits.shape[1])
    teacher_logits = match_teacher_size(student_logits, teacher_logits.detach())
    valid = None if valid_mask is None else flat_mask(valid_mask, student_logits)
    class_dim = 2 if mode == 'spatial' else 1
    rows = Lines((class_dim, ), valid, group, across_batch=False)
    columns = Lines(tuple(d for d in range(3) if d != class_dim), valid, group,
                    across_batch=True)
    return LogProbs(_log_probs(student_logits, mode, tau, rows),
                    _log_probs(teacher_logits, mode, tau, rows), rows, columns)


def _log_probs(logits: Tensor, mode: str, tau: float, rows: Lines) -> Tensor:
    """(N, C, H, W) logits -> the (N, A, B) log-probability tensor of ``mode``."""
    num, channels = logits.shape[:2]
    logits = upcast(logits).reshape(num, channels, -1)
    if tau != 1:
        logits = logits / tau
    if mode == 'binary':  # [sigmoid(x), 1 - sigmoid(x)] = softmax([x, 0])
        logits = F.pad(logits, (0, 0, 0, 1))
    if mode != 'spatial':
        return logits.log_softmax(dim=1)
    if rows.valid is None:
        return logits.log_softmax(dim=2)
    log_norm, = rows.logsumexp(logits)  # a softmax over the valid locations of each map
    return logits - log_norm


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


class BaseLogitDistillLoss(nn.Module, metaclass=ABCMeta):
    """Common options and input handling of the logit-distillation losses.

    Subclasses implement :meth:`compute` on :class:`LogProbs` and return
    named, weighted terms. The terms are computed in float32 (float64 inputs
    stay float64) whatever the autocast dtype.

    Args:
        mode: ``'channel'``, ``'binary'`` or ``'spatial'`` (see module doc).
        tau: Temperature dividing the logits.
        loss_weight: Factor on every returned term.
        ignore_invalid: If True, the distiller passes the task's validity
            mask (ground truth not ignore / invalid) and masked pixels take no
            part; if False (default, as the paper) every pixel does.
        global_batch: In a process group of more than one rank (DDP), span
            the matrices over the images of all ranks, as one process on the
            whole batch would (default); False keeps each rank's own images.
            Needs logits of the same size on every rank.
    """

    def __init__(self, mode: str = 'channel', tau: float = 1.0, loss_weight: float = 1.0,
                 ignore_invalid: bool = False, global_batch: bool = True) -> None:
        super().__init__()
        self.mode = check_mode(mode, type(self).__name__)
        if tau <= 0:
            raise ValueError(f'{type(self).__name__}: tau must be > 0, got {tau}.')
        self.tau = float(tau)
        self.loss_weight = float(loss_weight)
        self.ignore_invalid = ignore_invalid
        self.global_batch = global_batch

    def forward(self, student_logits: Tensor, teacher_logits: Tensor,
                valid_mask: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Distillation terms of one task.

        Args:
            student_logits: (N, C, H, W) student logits.
            teacher_logits: (N, C, h, w) teacher logits, resized bilinearly
                to (H, W) if needed; no gradient flows to them.
            valid_mask: Optional (N, H, W) bool mask of pixels to use.

        Returns:
            Named scalar terms, already multiplied by their weights.
        """
        with float32_context(student_logits.device.type):
            log_probs = log_prob_pair(student_logits, teacher_logits, self.mode, self.tau,
                                      valid_mask, batch_group(self.global_batch))
            return self.compute(log_probs)

    @abstractmethod
    def term_names(self) -> Tuple[str, ...]:
        """Names of the returned terms."""

    @abstractmethod
    def compute(self, log_probs: LogProbs) -> Dict[str, Tensor]:
        """Weighted terms from the log-probabilities of student and teacher."""

    def extra_repr(self) -> str:
        return (f'mode={self.mode!r}, tau={self.tau}, loss_weight={self.loss_weight}, '
                f'ignore_invalid={self.ignore_invalid}, global_batch={self.global_batch}')
