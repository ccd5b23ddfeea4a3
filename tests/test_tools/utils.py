"""Helpers to run the command-line tools as a user does, in a subprocess."""
import os
import os.path as osp
import socket
import subprocess
import sys
from typing import List, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def synthetic_options(data_root, max_iters: int, work_dir=None) -> List[str]:
    """--cfg-options that point a synthetic config at ``data_root``."""
    options = [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        f'default_hooks.checkpoint.interval={max_iters}',
        'default_hooks.logger.interval=1',
        'train_dataloader.batch_size=2',
    ]
    return options


def run_tool(args: Sequence[str], timeout: int = 600, env_extra=None) -> str:
    """Run ``args`` from the repository root; return stdout+stderr, raise on failure."""
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('OMP_NUM_THREADS', '1')
    env.update(env_extra or {})
    proc = subprocess.run(list(args), cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f'{" ".join(args)} failed ({proc.returncode}):\n{output[-6000:]}')
    return output


PYTHON = sys.executable
