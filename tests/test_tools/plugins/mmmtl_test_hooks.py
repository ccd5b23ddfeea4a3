"""Hooks the end-to-end tests add to runs of tools/train.py (via a generated config).

Not a test module: the tool subprocess imports it through ``custom_imports``
with this folder on ``PYTHONPATH`` (see ``tests/test_tools/utils.py``).
"""
import os
import os.path as osp
import signal

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmtl.registry import HOOKS


@HOOKS.register_module()
class KillAfterIter(Hook):
    """SIGKILL the training process right after iteration ``iters``.

    Runs after every other hook of that iteration (``LOWEST`` priority), so
    the checkpoint of that iteration is on disk: the process dies the way a
    pre-empted or crashed job does, with no ``after_train`` and no clean-up.
    """
    priority = 'LOWEST'

    def __init__(self, iters: int) -> None:
        self.iters = iters

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.iters:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class DumpRankState(Hook):
    """Every rank saves its model (and optimizer) state to
    ``<work_dir>/rank<r>_initial.pth`` before the first iteration and to
    ``<work_dir>/rank<r>_state.pth`` after the last one (checkpoints hold
    rank 0's state only)."""
    priority = 'LOWEST'

    @staticmethod
    def _save(runner, name: str) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state = dict(state_dict=model.state_dict(),
                     optimizer=runner.optim_wrapper.optimizer.state_dict())
        torch.save(state, osp.join(runner.work_dir, f'rank{get_rank()}_{name}.pth'))

    def before_train(self, runner) -> None:
        self._save(runner, 'initial')

    def after_train(self, runner) -> None:
        self._save(runner, 'state')
