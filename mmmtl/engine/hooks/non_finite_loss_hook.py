"""Stop training at the first non-finite loss, before anything non-finite is saved."""
import logging
import math
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmmtl.registry import HOOKS

from ..optim_wrappers.skip_non_finite_optim_wrapper import SkipNonFiniteOptimWrapper


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise ``FloatingPointError`` naming the loss terms and the iteration as
    soon as a loss term is NaN or infinite.

    It reads the loss values ``RuntimeInfoHook`` has already copied to the
    host for logging (no extra device synchronisation) and runs before
    ``CheckpointHook`` (priority ``LOW``, theirs ``VERY_LOW``), so the iteration that
    produced the non-finite loss is never checkpointed. Before any checkpoint
    is written it also checks that every floating-point tensor of the model's
    state is finite (a finite loss with overflowing gradients can still leave
    non-finite weights).

    To skip such steps instead of stopping, use
    ``optim_wrapper = dict(type='SkipNonFiniteOptimWrapper', ...)``: the
    optimizer step is then skipped and this hook only logs a warning.
    """
    priority = 'LOW'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict] = None) -> None:
        if not outputs:
            return
        bad = {}
        for key in outputs:
            if 'loss' not in key:
                continue
            value = runner.message_hub.get_scalar(f'train/{key}').current()
            if not math.isfinite(value):
                bad[key] = value
        if not bad:
            return
        if len(bad) > 1:  # name the terms, not their sum
            bad.pop('loss', None)
        terms = ', '.join(f'{key}={value}' for key, value in bad.items())
        iteration = runner.iter + 1
        if isinstance(runner.optim_wrapper, SkipNonFiniteOptimWrapper):
            print_log(f'Non-finite loss at iteration {iteration}: {terms}; the optimizer step '
                      'is skipped (SkipNonFiniteOptimWrapper).', logger='current',
                      level=logging.WARNING)
            return
        raise FloatingPointError(
            f'Non-finite loss at iteration {iteration}: {terms}. Training stops before this '
            'state is checkpointed. Lower the learning rate or check the data; to skip such '
            "steps instead, set optim_wrapper.type='SkipNonFiniteOptimWrapper'.")

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key, value in checkpoint.get('state_dict', {}).items():
            if (isinstance(value, torch.Tensor) and value.is_floating_point()
                    and not torch.isfinite(value).all()):
                raise FloatingPointError(
                    f'Iteration {runner.iter + 1}: the model\'s {key} holds NaN or infinite '
                    'values; the checkpoint is not written (the previous ones are kept).')
