"""Helpers to run the command-line tools as a user does, in a subprocess."""
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# Folder of mmmtl_test_hooks.py, importable by runs through ``custom_imports``.
PLUGINS_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'plugins')
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def synthetic_options(data_root, max_iters: int, work_dir=None,
                      checkpoint_interval: Optional[int] = None, validate: bool = True,
                      batch_size: int = 2) -> List[str]:
    """--cfg-options that point a synthetic config at ``data_root``.

    Args:
        checkpoint_interval: Defaults to ``max_iters``.
        validate: Validate at the end of training (``False`` skips it).
        batch_size: Images per process and iteration.
    """
    options = [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        f'default_hooks.checkpoint.interval={checkpoint_interval or max_iters}',
        'default_hooks.logger.interval=1',
        f'train_dataloader.batch_size={batch_size}',
    ]
    if not validate:
        options.append(f'train_cfg.val_begin={max_iters + 1}')
    return options


def run_tool(args: Sequence[str], timeout: int = 600, env_extra=None,
             returncode: int = 0) -> str:
    """Run ``args`` from the repository root; return stdout+stderr.

    Raises unless the process exits with ``returncode`` (e.g. ``-9`` for a
    run that a test kills with SIGKILL).
    """
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO_ROOT, PLUGINS_DIR] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    env.setdefault('OMP_NUM_THREADS', '1')
    env.update(env_extra or {})
    proc = subprocess.run(list(args), cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    if proc.returncode != returncode:
        raise AssertionError(f'{" ".join(args)} exited with {proc.returncode}, expected '
                             f'{returncode}:\n{output[-6000:]}')
    return output


def write_config(path: Path, base: str, body: str = '') -> str:
    """Write a config at ``path`` that inherits the repository config ``base``."""
    text = (f'_base_ = [{osp.join(REPO_ROOT, base)!r}]\n'
            "custom_imports = dict(imports=['mmmtl', 'mmmtl_test_hooks'], "
            'allow_failed_imports=False)\n' + body)
    Path(path).write_text(text)
    return str(path)


def load_checkpoint(path) -> dict:
    """A checkpoint as saved, loaded the safe way (``weights_only``)."""
    return torch.load(path, map_location='cpu', weights_only=True)


def assert_identical(actual, expected, where: str = 'checkpoint') -> None:
    """Recursively: same keys, bit-identical tensors / arrays, equal other values."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor), where
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, where
        assert torch.equal(actual, expected), (
            f'{where} differs: max |diff| '
            f'{(actual.double() - expected.double()).abs().max().item():.3g}')
    elif isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(actual, expected, err_msg=where)
    elif isinstance(expected, dict):
        assert set(actual) == set(expected), f'{where}: keys {set(actual) ^ set(expected)}'
        for key in expected:
            assert_identical(actual[key], expected[key], f'{where}.{key}')
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected)):
            assert_identical(a, e, f'{where}[{index}]')
    else:
        assert actual == expected, f'{where}: {actual!r} != {expected!r}'


def assert_same_training_state(resumed: dict, uninterrupted: dict) -> None:
    """Weights, optimizer and scheduler states of two checkpoints are bit-identical."""
    assert resumed['meta']['iter'] == uninterrupted['meta']['iter']
    for key in ('state_dict', 'optimizer', 'param_schedulers'):
        assert_identical(resumed[key], uninterrupted[key], key)


def last_checkpoint(work_dir) -> str:
    return (Path(work_dir) / 'last_checkpoint').read_text().strip()


def copy_data_root(src: Path, dst: Path, train_ids: Sequence[str]) -> Path:
    """A copy of a synthetic data root whose training split is ``train_ids``."""
    shutil.copytree(src, dst)
    (dst / 'gt_sets' / 'train.txt').write_text('\n'.join(train_ids) + '\n')
    return dst


def equal_valid_pixel_ids(data_root: Path, min_count: int = 2) -> List[str]:
    """Training ids of a synthetic NYUD root whose images all have the same
    number of valid depth and label pixels (the same sensor holes' size).

    Task losses are means over the valid pixels of a batch; under DDP each
    rank takes the mean over its own images and the gradients are averaged
    over ranks. Both equal the mean over the global batch only when every
    image has as many valid pixels, so the DDP-vs-one-process comparisons
    train on such images.
    """
    import cv2
    groups = {}
    for sample_id in (data_root / 'gt_sets' / 'train.txt').read_text().split():
        depth = np.load(data_root / 'depth' / f'{sample_id}.npy')
        raw_seg = cv2.imread(str(data_root / 'segmentation' / f'{sample_id}.png'),
                             cv2.IMREAD_UNCHANGED)
        key = (int((depth <= 0).sum()), int((raw_seg == 0).sum()))
        groups.setdefault(key, []).append(sample_id)
    ids = max(groups.values(), key=len)
    assert len(ids) >= min_count, f'no {min_count} training images alike: {groups}'
    return ids


# Config lines shared by the DDP-vs-one-process comparisons: every rank dumps
# its state; no random augmentation (each rank draws its own random numbers,
# one process draws them in turn); SGD, whose step is linear in the gradient:
# AdamW divides each gradient by its magnitude, which turns the float noise of
# gradients that are zero in exact arithmetic (e.g. the key biases of
# attention, to which the softmax is invariant) into steps of size lr.
DDP_COMPARISON_BODY = """custom_hooks = [dict(type='DumpRankState')]
train_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline}}))
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
"""
# BatchNorm normalises by the statistics of a rank's images, which differ from
# those of the global batch; GroupNorm has no batch statistics.
GROUP_NORM = "dict(type='GN', num_groups=4, requires_grad=True)"


def assert_ranks_identical(ddp_dir: Path, world_size: int = 2) -> None:
    """Every rank of a DDP run holds the same weights and optimizer state, bit for bit."""
    ranks = [load_checkpoint(ddp_dir / f'rank{r}_state.pth') for r in range(world_size)]
    for rank in range(1, world_size):
        assert_identical(ranks[rank], ranks[0], f'rank {rank} vs rank 0')


def assert_close_to_one_process(ddp_dir: Path, single_dir: Path, rtol: float = 1e-4,
                                atol: float = 1e-6) -> None:
    """Rank 0 of a DDP run matches the one-process run on the same global batch:
    each tensor differs by less than ``rtol`` times what training changed it,
    plus ``atol`` (float reduction order changes gradients by ~1e-7 relative;
    a BatchNorm over one rank's images instead of the global batch changes
    them by ~1e4 times this bound)."""
    initial = load_checkpoint(single_dir / 'rank0_initial.pth')['state_dict']
    assert_identical(load_checkpoint(ddp_dir / 'rank0_initial.pth')['state_dict'], initial,
                     'initial weights')
    single = load_checkpoint(single_dir / 'rank0_state.pth')['state_dict']
    ddp = load_checkpoint(ddp_dir / 'rank0_state.pth')['state_dict']
    assert ddp.keys() == single.keys()
    largest_move = 0.
    for key, value in single.items():
        if not value.is_floating_point():
            assert torch.equal(ddp[key], value), key
            continue
        moved = (value.double() - initial[key].double()).abs().max().item()
        diff = (ddp[key].double() - value.double()).abs().max().item()
        assert diff <= rtol * moved + atol, (
            f'{key}: DDP and one process differ by {diff:.3g}; training moved it by '
            f'{moved:.3g}')
        largest_move = max(largest_move, moved)
    assert largest_move > 1e-3  # training did change the weights


# (metric, higher is better, margin a trained synthetic model must clear over
# its untrained self on the synthetic test split)
TRAINED_MARGINS = (('semseg/mIoU', True, 2.0), ('depth/rmse', False, 0.1),
                   ('normal/mean', False, 5.0), ('edge/odsF', True, 5.0))


def save_untrained_checkpoint(config: str, path: Path) -> Path:
    """Save ``config``'s model, built and initialised with seed 0 but not
    trained, as a checkpoint at ``path``."""
    from mmengine.config import Config

    from mmmtl.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(osp.join(REPO_ROOT, config)).model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def assert_trained_beats_untrained(before: dict, after: dict) -> None:
    """Every metric of :data:`TRAINED_MARGINS` improved by at least its margin."""
    for key, higher_is_better, margin in TRAINED_MARGINS:
        gain = after[key] - before[key] if higher_is_better else before[key] - after[key]
        assert gain > margin, f'{key}: untrained {before[key]:.4f}, trained {after[key]:.4f}'
