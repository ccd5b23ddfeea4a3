"""Checkpoints written by mmengine load under torch's ``weights_only=True``."""
import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmmtl  # noqa: F401  (importing mmmtl allow-lists the safe types)


class ToyRegressor(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.bn = nn.BatchNorm1d(2)

    def forward(self, inputs, labels, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        labels = torch.stack(labels) if isinstance(labels, list) else labels
        outputs = self.linear(self.bn(inputs))
        if mode == 'loss':
            return dict(loss=((outputs - labels)**2).mean())
        return outputs


class ToyDataset(Dataset):
    METAINFO = dict(classes=('a', 'b'))

    def __len__(self):
        return 8

    def __getitem__(self, index):
        return dict(inputs=torch.full((2, ), float(index)), labels=torch.ones(1))


class CountIters(Hook):

    def __init__(self):
        self.count = 0

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.count += 1


def _train_toy(work_dir, max_iters=3, resume=False, counter=None):
    runner = Runner(
        custom_hooks=[counter] if counter is not None else None,
        model=ToyRegressor(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=dict(type='PolyLR', power=0.9, eta_min=1e-4, by_epoch=False,
                             end=max_iters),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=max_iters,
                                           by_epoch=False)),
        resume=resume,
        randomness=dict(seed=0),
        default_scope='mmengine',
        experiment_name=f'toy_{max_iters}_{resume}_{os.getpid()}')
    runner.train()
    return runner


class _Exploit:
    """An object whose unpickling runs code: must be refused."""

    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    torch.manual_seed(0)
    initial = ToyRegressor().state_dict()  # the runner seeds 0 too: same initial weights
    runner = _train_toy(tmp_path)
    ckpt_path = tmp_path / 'iter_3.pth'
    checkpoint = torch.load(ckpt_path, map_location='cpu', weights_only=True)
    assert set(checkpoint) >= {'meta', 'state_dict', 'optimizer', 'message_hub',
                               'param_schedulers'}
    assert checkpoint['meta']['iter'] == 3
    assert isinstance(checkpoint['meta']['seed'], (int, np.integer))
    # the file holds the trained weights (and BN statistics) of the runner's model
    trained = runner.model.state_dict()
    assert checkpoint['state_dict'].keys() == trained.keys()
    for key, value in trained.items():
        assert torch.equal(checkpoint['state_dict'][key], value), key
    assert not torch.equal(checkpoint['state_dict']['linear.weight'], initial['linear.weight'])
    momentum = checkpoint['optimizer']['state'][0]['momentum_buffer']
    assert torch.equal(momentum, runner.optim_wrapper.optimizer.state_dict()['state'][0][
        'momentum_buffer'])


def test_resume_from_mmengine_checkpoint(tmp_path):
    _train_toy(tmp_path, max_iters=3)
    counter = CountIters()
    runner = _train_toy(tmp_path, max_iters=5, resume=True, counter=counter)
    assert runner.iter == 5
    assert counter.count == 2  # resumed at iteration 3, not retrained from scratch


def test_arbitrary_pickle_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    with open(path, 'wb') as f:
        torch.save({'state_dict': {}, 'meta': _Exploit()}, f)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, map_location='cpu', weights_only=True)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, map_location='cpu')  # the torch>=2.6 default


class _GetattrEscape:
    """Tries to reach a function's globals through the allowed ``getattr``."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_is_limited_to_mmengine_methods(tmp_path):
    path = tmp_path / 'escape.pth'
    torch.save({'meta': _GetattrEscape()}, path)
    with pytest.raises(pickle.UnpicklingError, match='Refusing getattr'):
        torch.load(path, map_location='cpu', weights_only=True)
