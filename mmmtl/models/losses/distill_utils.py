"""Shared pieces of the logit-distillation losses (CS, KL, DIST).

Every distillation loss compares two ``[R, K]`` matrices of probabilities
built from the student's and the teacher's logits of one task, held as
base-2 log-probabilities ``log2 p`` in (N, A, B) tensors (no copy of the
logits' layout):

- ``channel``: rows are the N*H*W pixels, columns the C classes;
  ``log2 softmax(logits / tau)`` over the classes; tensor (N, C, H*W).
- ``binary``: 1-channel logits ``x``; rows are the pixels, the two columns
  ``[log2 sigmoid(x / tau), log2(1 - sigmoid(x / tau))]``; tensor (N, 2, H*W).
- ``spatial``: rows are the N*C maps, columns the H*W locations;
  ``log2 softmax(map / tau)`` over the locations; tensor (N, C, H*W).

Base 2 because every sum of probabilities is an ``exp`` of such a tensor:
float32 ``exp2`` is 4-5x faster than ``exp`` on CPU (SIMD kernels of both),
and on a GPU ``exp`` is computed through ``exp2`` anyway. The losses convert
their per-line results to nats (``* LN2``).

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
import threading
from abc import ABCMeta, abstractmethod
from contextlib import nullcontext
from typing import Dict, List, NamedTuple, Optional, Tuple, Union

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmmtl.utils.tasks import IGNORE_INDEX, get_task_spec

from .global_batch import batch_group, log2sumexp2_over_ranks, max_over_ranks, sum_over_ranks

DISTILL_MODES = ('channel', 'binary', 'spatial')
LOG2E = 1.4426950408889634  # log2(e): log2 x = LOG2E * ln x
LN2 = 0.6931471805599453  # ln(2): ln x = LN2 * log2 x
# exp2(x) for x < -126 is below float32's smallest normal number (2^-126).
EXP2_FLOOR = -126.
TINY = 2.**EXP2_FLOOR  # a sum of exp2 over a non-empty line is at least this


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
    rows of every rank. Logarithms and exponentials are base 2 (module doc).

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
        # The rows are the distributions: a non-empty row of p (valid entries)
        # sums to 1, so its largest entry is >= 1/K and its sum of p^2 >= 1/K^2.
        self.distributions = not across_batch

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
            peaks = [self.mask(t, float('-inf')).amax(self.dims, keepdim=True)
                     for t in tensors]
            if self.group is not None and not local:
                peaks = max_over_ranks(torch.stack(peaks), self.group).unbind(0)
            if self.valid is None:  # no empty lines
                return tuple(peaks)
            return tuple(peak.nan_to_num(neginf=0.) for peak in peaks)

    def exp2_shifted(self, tensor: Tensor, shift: Union[Tensor, float],
                     out: Optional[Tensor] = None, scale: float = 1.) -> Tensor:
        """``exp2(scale * tensor - shift)`` for ``scale * tensor <= shift`` along
        each line, 0 at invalid entries; written into ``out`` (may be
        ``tensor``) if given, which autograd does not follow.

        Exponents are clamped to [-126, 0]: below -126 the result is under
        float32's smallest normal number, negligible next to the line's 2^0,
        and several times slower to compute; above 0 are only invalid entries.
        """
        if isinstance(shift, float) and shift == 0:
            values = tensor if scale == 1 else torch.mul(tensor, scale, out=out)
            values = torch.clamp(values, EXP2_FLOOR, 0., out=out)
        elif scale == 1:
            values = torch.sub(tensor, shift, out=out).clamp_(EXP2_FLOOR, 0.)
        else:  # one pass for both the scale and the shift
            values = torch.add(-shift, tensor, alpha=scale, out=out).clamp_(EXP2_FLOOR, 0.)
        values = values.exp2_()
        if not self.masks_entries:
            return values
        if out is not None:
            return values.masked_fill_(~self.valid, 0.)
        return torch.where(self.valid, values, 0.)

    def local_log2sumexp2(self, tensor: Tensor, out: Optional[Tensor] = None,
                          scale: float = 1., peak_at_most_0: bool = False) -> Tensor:
        """``log2 sum exp2(scale * tensor)`` over the valid entries of every line,
        on this rank (0 on empty lines); ``out``: scratch memory (see
        :meth:`exp2_shifted`).

        ``peak_at_most_0``: the caller knows that the largest valid
        ``scale * tensor`` of every non-empty line lies in [-126, 0] (e.g.
        ``2 log2 p`` along a row of at most 2^63 entries): the sum is taken
        without a shift, in one pass fewer.
        """
        if peak_at_most_0:
            peak = 0.
        else:
            peak, = self.peak(tensor, local=True)
            peak = peak if scale == 1 else scale * peak  # scale > 0
        total = self.exp2_shifted(tensor, peak, out, scale).sum(self.dims, keepdim=True)
        return total.clamp_min(TINY).log2() + peak  # empty lines: no gradient

    def reduce_log2sumexp2(self, local_sums: Tensor) -> Tuple[Tensor, ...]:
        """Stacked results of :meth:`local_log2sumexp2` -> the log-sums of the
        lines over all ranks (0 on empty lines), unstacked."""
        if self.group is not None:
            local_sums = log2sumexp2_over_ranks(local_sums, self.local_nonempty, self.group)
        if self.nonempty is not None:
            local_sums = torch.where(self.nonempty, local_sums, 0.)
        return local_sums.unbind(0)

    def log2sumexp2(self, *tensors: Tensor) -> Tuple[Tensor, ...]:
        """``log2 sum exp2`` of the valid entries of every line (0 on empty lines)."""
        return self.reduce_log2sumexp2(
            torch.stack([self.local_log2sumexp2(t) for t in tensors]))

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


_SCRATCH = threading.local()  # this thread's reused scratch buffers, by dtype


def scratch_tensors(like: Tensor, count: int) -> List[Tensor]:
    """``count`` uninitialised tensors shaped like ``like``, for temporaries
    that do not outlive the caller (neither returned nor saved for backward).

    On CPU they are views of one buffer per thread and dtype, kept and reused
    from call to call (it grows to the largest request): glibc returns freed
    memory of this size to the OS, so a fresh tensor is fresh pages, which
    fault in on first touch (about 2.5 us per 4 KiB on the VM of
    tools/benchmarks/README.md, more than 10 passes over the tensor). On other
    devices (CUDA's caching allocator) they are fresh tensors. Callers must not
    nest requests.
    """
    if like.device.type != 'cpu':
        return [torch.empty_like(like, memory_format=torch.contiguous_format)
                for _ in range(count)]
    buffers = _SCRATCH.__dict__.setdefault('buffers', {})
    size = like.numel()
    buffer = buffers.get(like.dtype)
    if buffer is None or buffer.numel() < count * size:
        buffer = buffers[like.dtype] = torch.empty(count * size, dtype=like.dtype)
    return [buffer[i * size:(i + 1) * size].view(like.shape) for i in range(count)]


def release_scratch_tensors() -> None:
    """Free this thread's reused scratch buffers (:func:`scratch_tensors`);
    the next request allocates them again (e.g. to measure a loss's memory)."""
    _SCRATCH.__dict__.pop('buffers', None)


class LogitPair(NamedTuple):
    """Student and teacher logits of one task in the matrices' layout, and their lines.

    ``student`` / ``teacher``: (N, A, B) logits divided by ``tau`` (see the
    module doc; ``binary`` adds the zero logit of the second column), whose
    softmax along the rows is the matrix (:func:`log2_probs`); the teacher's
    is detached. The rows / columns are :class:`Lines`.
    """
    student: Tensor
    teacher: Tensor
    rows: Lines
    columns: Lines

    def log_probs(self) -> 'LogProbs':
        """The base-2 log-probabilities (student's differentiable)."""
        return LogProbs(log2_probs(self.student, self.rows),
                        log2_probs(self.teacher, self.rows), self.rows, self.columns)


class LogProbs(NamedTuple):
    """Student and teacher base-2 log-probabilities of one task and their lines.

    ``student`` / ``teacher``: (N, A, B) tensors (see the module doc), finite
    everywhere (invalid entries hold values that the lines ignore); a row is
    a distribution along one dim, the rows / columns are :class:`Lines`.
    """
    student: Tensor
    teacher: Tensor
    rows: Lines
    columns: Lines


def log2_probs(logits: Tensor, rows: Lines) -> Tensor:
    """Base-2 log-probabilities of (N, A, B) logits, through autograd: ``log2
    softmax`` along each row, over the valid entries of the row (invalid
    entries get finite values that the lines ignore)."""
    if not rows.masks_entries:  # rows of whole pixels, or no mask
        return torch.log_softmax(logits, rows.dims[0]) * LOG2E
    logits = logits * LOG2E  # a softmax over the valid entries
    log_norm, = rows.log2sumexp2(logits)
    return logits - log_norm


def log2_normalisers(logits: Tensor, rows: Lines, scratch: Tensor,
                     squares: bool = False) -> Tuple[Tensor, ...]:
    """Each row's largest valid logit ``m`` and ``l = log2 sum exp(logits - m)``
    over its valid entries (garbage on empty rows, which the lines drop),
    without autograd, using ``scratch`` (a tensor like ``logits``);
    :func:`log2_probs_into` makes the base-2 log-probabilities
    ``LOG2E * (logits - m) - l`` from them.

    ``squares``: also each row's ``log2 sum p^2``, from the same ``exp``:
    ``e = exp(logits - m)`` has 1 for largest entry, so ``sum e^2 >= 1``
    needs no shift.
    """
    peak, = rows.peak(logits, local=True)
    exps = rows.exp2_shifted(torch.sub(logits, peak, out=scratch), 0., out=scratch,
                             scale=LOG2E)  # exp(logits - m), 0 at invalid entries
    log2_sum = exps.sum(rows.dims, keepdim=True).clamp_min_(TINY).log2_()
    if not squares:
        return peak, log2_sum
    log2_squares = exps.square_().sum(rows.dims, keepdim=True).clamp_min_(TINY).log2_()
    return peak, log2_sum, log2_squares.sub_(log2_sum, alpha=2)


def log2_probs_into(logits: Tensor, norms: Tuple[Tensor, Tensor], out: Tensor) -> Tensor:
    """``LOG2E * (logits - m) - l`` (``norms``: ``m, l`` from
    :func:`log2_normalisers`) into ``out``, in two passes: the base-2
    log-probabilities, bit for bit the same each time (a backward recomputes
    them instead of keeping them). Subtracting ``m`` first keeps them as
    exact as ``log_softmax`` for logits of any magnitude."""
    peak, log2_sum = norms
    return torch.add(-log2_sum, torch.sub(logits, peak, out=out), alpha=LOG2E, out=out)


def logit_pair(student_logits: Tensor, teacher_logits: Tensor, mode: str, tau: float,
               valid_mask: Optional[Tensor] = None,
               group: Optional['dist.ProcessGroup'] = None) -> LogitPair:
    """Student and teacher logits of one task in the matrices' layout (see
    :class:`LogitPair`).

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
    return LogitPair(_matrix_logits(student_logits, mode, tau),
                     _matrix_logits(teacher_logits, mode, tau), rows, columns)


def log_prob_pair(student_logits: Tensor, teacher_logits: Tensor, mode: str, tau: float,
                  valid_mask: Optional[Tensor] = None,
                  group: Optional['dist.ProcessGroup'] = None) -> LogProbs:
    """Student and teacher base-2 log-probabilities of one task (see
    :class:`LogProbs`); arguments as :func:`logit_pair`."""
    return logit_pair(student_logits, teacher_logits, mode, tau, valid_mask,
                      group).log_probs()


def _matrix_logits(logits: Tensor, mode: str, tau: float) -> Tensor:
    """(N, C, H, W) logits -> the (N, A, B) logits / tau of ``mode``."""
    num, channels = logits.shape[:2]
    logits = upcast(logits).reshape(num, channels, -1)
    if tau != 1:
        logits = logits / tau
    if mode == 'binary':  # [sigmoid(x), 1 - sigmoid(x)] = softmax([x, 0])
        logits = F.pad(logits, (0, 0, 0, 1))
    return logits


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

    Subclasses implement :meth:`compute` on a :class:`LogitPair` and return
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
            pair = logit_pair(student_logits, teacher_logits, self.mode, self.tau,
                              valid_mask, batch_group(self.global_batch))
            return self.compute(pair)

    @abstractmethod
    def term_names(self) -> Tuple[str, ...]:
        """Names of the returned terms."""

    @abstractmethod
    def compute(self, pair: LogitPair) -> Dict[str, Tensor]:
        """Weighted terms from the logits of student and teacher."""

    def extra_repr(self) -> str:
        return (f'mode={self.mode!r}, tau={self.tau}, loss_weight={self.loss_weight}, '
                f'ignore_invalid={self.ignore_invalid}, global_batch={self.global_batch}')
