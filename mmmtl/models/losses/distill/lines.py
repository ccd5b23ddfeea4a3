"""Rows and columns of a task's probability matrices, over the global batch.

A *line* is a row or a column of the ``[R, K]`` matrix, i.e. some dims of the
(N, A, B) tensors of :mod:`.base`. Under DDP the matrices span the images of
all ranks (Eq. 5-6 average over the whole batch): rows lie within an image, so
they are reduced on their rank and their mean covers all ranks (``all_reduce``
of sum and count); columns run over the batch, so their per-rank reductions
are combined (``all_gather``) and every rank holds every column. The
collectives of :mod:`torch.distributed.nn.functional` sum the gradients of all
ranks in the backward: every rank computes the same global loss, its logits
get ``world_size`` times their share, and DDP's average over the ranks leaves
the gradient of one process on the whole batch.
"""
from typing import Optional, Tuple

import torch
import torch.distributed as dist
from torch import Tensor
from torch.distributed.nn.functional import all_gather, all_reduce

NEG_INF = float('-inf')


def masked_logsumexp(values: Tensor, keep: Optional[Tensor], dims: Tuple[int, ...],
                     empty: float = 0.) -> Tensor:
    """``log sum exp(values)`` over ``dims`` (kept) where ``keep``; ``empty`` on
    lines without a kept entry (they sum zeros, so that no ``exp(-inf - -inf)``
    reaches the backward)."""
    if keep is None:
        return torch.logsumexp(values, dims, keepdim=True)
    nonempty = keep.any(dims, keepdim=True)
    values = torch.where(keep, values, torch.where(nonempty, NEG_INF, 0.))
    return torch.where(nonempty, torch.logsumexp(values, dims, keepdim=True), empty)


def batch_group(global_batch: bool) -> Optional['dist.ProcessGroup']:
    """The default process group if ``global_batch`` and it has several ranks."""
    if global_batch and dist.is_available() and dist.is_initialized() \
            and dist.get_world_size() > 1:
        return dist.group.WORLD
    return None


class Lines:
    """The rows or the columns: reductions to one value per line (kept dims)
    over the line's valid entries, and means over the non-empty lines.

    Args:
        dims: The dims of the (N, A, B) tensors that one line spans.
        valid: (N, 1, B) bool mask of the valid entries, or None (all valid).
        group: Process group over which the batch is spread, or None.
    """

    def __init__(self, dims: Tuple[int, ...], valid: Optional[Tensor],
                 group: Optional['dist.ProcessGroup']) -> None:
        self.dims, self.group = dims, group
        self.across_ranks = group is not None and 0 in dims  # the columns
        # A mask constant along a line (a pixel's row) only empties whole lines.
        self.keep = None if valid is None or all(valid.shape[d] == 1 for d in dims) else valid
        self.nonempty = None if valid is None else valid.any(dims, keepdim=True)
        if self.nonempty is not None and self.across_ranks:
            self.nonempty = all_reduce(self.nonempty.float(), group=group) > 0

    def masked(self, values: Tensor, fill: float) -> Tensor:
        return values if self.keep is None else torch.where(self.keep, values, fill)

    def sum(self, values: Tensor) -> Tensor:
        total = self.masked(values, 0.).sum(self.dims, keepdim=True)
        return all_reduce(total, group=self.group) if self.across_ranks else total

    def logsumexp(self, values: Tensor) -> Tensor:
        """0 on empty lines."""
        if not self.across_ranks:
            return masked_logsumexp(values, self.keep, self.dims)
        local = masked_logsumexp(values, self.keep, self.dims, empty=NEG_INF)
        ranks = torch.stack(all_gather(local, group=self.group))
        return masked_logsumexp(ranks, ranks > NEG_INF, (0, ))[0]

    def log_softmax(self, values: Tensor) -> Tensor:
        """Along the rows, over their valid entries."""
        if self.keep is None:
            return torch.log_softmax(values, self.dims[0])
        return values - self.logsumexp(values)

    def amax(self, values: Tensor) -> Tensor:
        """Without gradient; 0 on empty lines."""
        with torch.no_grad():
            peak = self.masked(values, NEG_INF).amax(self.dims, keepdim=True)
            if self.across_ranks:
                peak = torch.stack(all_gather(peak, group=self.group)).amax(0)
            return peak.nan_to_num(neginf=0.)

    def mean(self, values: Tensor) -> Tensor:
        """Mean of per-line ``values`` over the non-empty lines (0 if none)."""
        if self.nonempty is None:
            total, count = values.sum(), values.new_full((), values.numel())
        else:
            nonempty = self.nonempty.expand_as(values)
            total = torch.where(nonempty, values, 0.).sum()
            count = nonempty.sum().to(values.dtype)
        if self.group is not None and not self.across_ranks:  # the rows of all ranks
            total, count = all_reduce(torch.stack([total, count]), group=self.group)
        return total / count.clamp(min=1)
