"""Reductions over the ranks of a process group: distillation losses on the global batch.

Paper Eq. 5-6 average over the rows and columns of the matrices of the whole
batch. Under DDP each rank holds its own images, so the losses combine per-rank
partial results here, the way SyncBN combines batch statistics: sums of small
per-line statistics, never the logits themselves.

Gradients: the backward of a sum over ranks is the sum over ranks of the
incoming gradients. Every rank computes the same global loss, so each receives
``world_size`` times its share of the gradient, and DDP's average over ranks
leaves exactly the gradient of one process on the concatenated batch.
"""
from typing import Optional

import torch
import torch.distributed as dist
from torch import Tensor


def batch_group(global_batch: bool) -> Optional['dist.ProcessGroup']:
    """The default process group if ``global_batch`` and it has more than one
    rank, else None (every rank on its own images)."""
    if (global_batch and dist.is_available() and dist.is_initialized()
            and dist.get_world_size() > 1):
        return dist.group.WORLD
    return None


def sum_over_ranks(tensor: Tensor, group: 'dist.ProcessGroup') -> Tensor:
    """Sum of ``tensor`` over the ranks, differentiable (see the module doc)."""
    from torch.distributed.nn.functional import all_reduce
    return all_reduce(tensor, op=dist.ReduceOp.SUM, group=group)


def max_over_ranks(tensor: Tensor, group: 'dist.ProcessGroup') -> Tensor:
    """Element-wise maximum over the ranks, without gradient."""
    tensor = tensor.detach().clone()
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX, group=group)
    return tensor


def log2sumexp2_over_ranks(values: Tensor, present: Optional[Tensor],
                           group: 'dist.ProcessGroup') -> Tensor:
    """``log2 sum_ranks exp2(values)`` of every element, differentiable.

    Args:
        values: Per-rank log-sums, finite, the same shape on every rank.
        present: Bool, broadcastable to ``values``: False where this rank
            has nothing to add (its value is ignored); None if all present.
        group: The process group.

    Returns:
        The base-2 log-sums over the ranks; 0 where no rank has anything.
    """
    if present is not None:  # exp2(-inf) = 0: absent values add nothing, nor gradient
        values = torch.where(present, values, float('-inf'))
    # A shift that is constant for the gradient: the result does not depend on it.
    peak = max_over_ranks(values, group).nan_to_num(neginf=0.)
    total = sum_over_ranks((values - peak).exp2(), group)
    return peak + torch.where(total > 0, total, 1.).log2()
