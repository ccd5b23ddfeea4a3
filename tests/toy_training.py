"""A toy model trained in-process by an mmengine Runner with the hooks of
``configs/_base_/default_runtime.py`` (for tests of the training machinery:
non-finite losses, checkpointing)."""
import copy
import os.path as osp
import uuid
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import DataLoader

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


class ToyModel(BaseModel):
    """BatchNorm (a buffer the forward pass updates) and a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.norm = nn.BatchNorm1d(2)
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode: str = 'loss'):
        out = self.linear(self.norm(torch.stack(inputs)))
        return {'loss_toy': (out - 1).pow(2).mean(), 'loss_other': 0.1 * out.abs().mean()}


def toy_batches(num_iters: int, nan_at: Sequence[int] = ()) -> list:
    """Two samples per iteration; the iterations in ``nan_at`` (1-based) hold a NaN."""
    generator = torch.Generator().manual_seed(0)
    samples = []
    for it in range(1, num_iters + 1):
        for _ in range(2):
            sample = torch.randn(2, generator=generator)
            if it in nan_at:
                sample[0] = float('nan')
            samples.append(dict(inputs=sample))
    return samples


def runtime_hooks(checkpoint_interval: int = 1, max_keep_ckpts: int = 1) -> dict:
    """``default_hooks`` of the repository's runtime config, minus visualisation."""
    hooks = copy.deepcopy(
        Config.fromfile(osp.join(REPO_ROOT, 'configs/_base_/default_runtime.py')).default_hooks)
    hooks.pop('visualization')
    hooks.logger.interval = 1
    hooks.checkpoint.update(interval=checkpoint_interval, max_keep_ckpts=max_keep_ckpts)
    return hooks.to_dict()


def toy_runner(work_dir, samples: list, optim_type: str = 'OptimWrapper',
               optim_args: Optional[dict] = None, resume: bool = False,
               load_from: Optional[str] = None, **hook_args) -> Runner:
    """A Runner that trains :class:`ToyModel` on ``samples`` (2 per iteration, in
    order) with SGD in an optimizer wrapper of type ``optim_type``."""
    loader = DataLoader(samples, batch_size=2, shuffle=False,
                        collate_fn=lambda batch: dict(inputs=[s['inputs'] for s in batch]))
    return Runner(
        model=ToyModel(), work_dir=str(work_dir), train_dataloader=loader,
        optim_wrapper=dict(type=optim_type, optimizer=dict(type='SGD', lr=0.1, momentum=0.9),
                           **(optim_args or {})),
        train_cfg=dict(by_epoch=False, max_iters=len(samples) // 2),
        default_hooks=runtime_hooks(**hook_args), default_scope='mmmtl',
        resume=resume, load_from=load_from,
        experiment_name=f'toy_{uuid.uuid4().hex}', log_level='WARNING')
