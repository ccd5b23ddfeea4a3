"""An OptimWrapper that skips the steps whose loss or gradients are not finite."""
import logging
from contextlib import contextmanager
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper

from mmmtl.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class SkipNonFiniteOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that skips an update whose loss or gradients hold a
    NaN or an infinity, instead of training on (and saving) non-finite weights.

    A skipped update leaves the model and the optimizer exactly as before
    the iteration: no optimizer step (parameters, momenta and the optimizer's
    step count are unchanged), the gradients are zeroed, and the model's
    buffers (e.g. BatchNorm running statistics, updated by the forward pass
    that produced the NaN) are restored from a copy taken before the forward
    pass. The iteration still counts (its batch is consumed, the learning-rate
    schedule advances). With gradient accumulation the whole accumulated
    update is skipped. Under DDP every rank skips when any rank must.

    Cost: deciding needs the loss and gradient norm on the host, one device
    synchronisation per update (as AMP's ``GradScaler``), plus a copy of the
    buffers per update; the default ``OptimWrapper`` with
    :class:`~mmmtl.engine.hooks.NonFiniteLossHook` (stop at the first
    non-finite loss) has neither.

    Args:
        max_consecutive_skips: Raise ``FloatingPointError`` when this many
            updates in a row were skipped (the run has diverged).
        **kwargs: Arguments of ``OptimWrapper``.
    """

    def __init__(self, *args, max_consecutive_skips: int = 20, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_consecutive_skips = max_consecutive_skips
        self.consecutive_skips = 0
        self.skipped_updates = 0
        self._non_finite_loss: Optional[torch.Tensor] = None
        self._buffers: List[Tuple[torch.Tensor, torch.Tensor]] = []

    @contextmanager
    def optim_context(self, model: nn.Module):
        if self._inner_count % self._accumulative_counts == 0:  # an update's first forward
            self._buffers = [(buffer, buffer.detach().clone()) for buffer in model.buffers()]
        with super().optim_context(model):
            yield

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        loss = self.scale_loss(loss)
        non_finite = ~torch.isfinite(loss.detach())
        self._non_finite_loss = (non_finite if self._non_finite_loss is None else
                                 self._non_finite_loss | non_finite)
        self.backward(loss)
        if not self.should_update():
            return
        grads = [param.grad for group in self.optimizer.param_groups
                 for param in group['params'] if param.grad is not None]
        non_finite_grad = (~torch.isfinite(torch.nn.utils.get_total_norm(grads))
                           if grads else torch.zeros((), dtype=torch.bool))
        flags = torch.stack([self._non_finite_loss, non_finite_grad.to(loss.device)]).int()
        self._non_finite_loss = None
        if get_world_size() > 1:
            all_reduce(flags, op='max')
        bad_loss, bad_grad = flags.tolist()  # the one host synchronisation
        if bad_loss or bad_grad:
            self._skip('loss' if bad_loss else 'gradients')
        else:
            self.step(**(step_kwargs or {}))
            self.consecutive_skips = 0
        self.zero_grad(**(zero_kwargs or {}))

    def _skip(self, what: str) -> None:
        for buffer, saved in self._buffers:
            buffer.copy_(saved)
        self.skipped_updates += 1
        self.consecutive_skips += 1
        iteration = MessageHub.get_current_instance().get_info('iter', -1) + 1
        if self.consecutive_skips >= self.max_consecutive_skips:
            raise FloatingPointError(
                f'Iteration {iteration}: {self.consecutive_skips} updates in a row had a '
                'non-finite loss or gradients (max_consecutive_skips); training has diverged.')
        print_log(f'SkipNonFiniteOptimWrapper: iteration {iteration} has non-finite {what}; '
                  'its update is skipped (model, buffers and optimizer state unchanged).',
                  logger='current', level=logging.WARNING)
