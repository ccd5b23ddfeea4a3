"""Distributed set-up that also works on machines without GPUs."""
import datetime
import os
import re
import time
from contextlib import contextmanager
from typing import Iterator, List, Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config

TIMEOUT_KEY = 'env_cfg.dist_cfg.timeout'
_TIMEOUT_MESSAGE = re.compile(r'timed? ?out|timeout', re.IGNORECASE)


def init_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Start a gloo process group for ``launcher='pytorch'`` runs on CPU.

    mmengine 0.10.7's pytorch launcher calls ``torch.cuda.set_device``
    unconditionally, which fails without GPUs. When no GPU is visible we
    initialise the process group ourselves (gloo) before the Runner is built,
    so that ``Runner.setup_env`` sees a ready process group and skips its own
    ``init_dist``, and we make DDP wrap the model without ``device_ids``.
    Collective operations time out after ``env_cfg.dist_cfg.timeout``
    seconds (as mmengine's ``init_dist`` reads it on GPUs).

    Args:
        cfg: The run's config; ``env_cfg.dist_cfg`` and
            ``model_wrapper_cfg`` are updated in place.
        launcher: The ``--launcher`` argument of the tool.

    Returns:
        True if a CPU process group was initialised here.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    if 'RANK' not in os.environ or 'WORLD_SIZE' not in os.environ:
        raise RuntimeError(
            "--launcher pytorch needs RANK and WORLD_SIZE in the environment; "
            'start the run with tools/dist_train.sh (torchrun).')
    cfg.setdefault('env_cfg', {})
    cfg.env_cfg.setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    wrapper_cfg = cfg.get('model_wrapper_cfg') or {}
    wrapper_cfg = dict(wrapper_cfg)
    wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
    wrapper_cfg['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper_cfg
    if not torch_dist.is_initialized():
        kwargs = {}
        timeout = cfg.env_cfg.dist_cfg.get('timeout')
        if timeout is not None:
            kwargs['timeout'] = datetime.timedelta(seconds=timeout)
        torch_dist.init_process_group(backend='gloo', **kwargs)
    return True


def _ranks_that_did_not_time_out(rank: int, world_size: int, wait: float) -> Optional[List[int]]:
    """Ranks that did not also report a timeout within ``wait`` seconds.

    Every rank whose collective times out reports it in the rendezvous store;
    a rank that is alive but blocked in the same collective does so too, a
    stalled or dead one cannot. None if the store does not answer (rank 0
    hosts it when the job was not started by torchrun).
    """
    try:
        store = torch_dist.distributed_c10d._get_default_store()
        store.set(f'mmmtl/timed_out/{rank}', '1')
        keys = {other: f'mmmtl/timed_out/{other}' for other in range(world_size)}
        deadline = time.monotonic() + wait
        while True:
            silent = [other for other, key in keys.items() if not store.check([key])]
            if not silent or time.monotonic() > deadline:
                return silent
            time.sleep(0.2)
    except Exception:  # the store is gone or stalled itself: no verdict
        return None


@contextmanager
def collective_timeout_names_ranks(cfg: Config) -> Iterator[None]:
    """Re-raise a timed-out collective operation as an error naming the ranks.

    gloo reports only ``Timed out waiting 5000ms for recv operation``. Here
    the error says which rank timed out, which ranks did not reach the
    operation (stalled or dead), and which setting holds the timeout.
    Other errors, and runs that are not distributed, pass through unchanged.
    """
    try:
        yield
    except RuntimeError as error:
        if not (torch_dist.is_initialized() and _TIMEOUT_MESSAGE.search(str(error))):
            raise
        rank, world_size = torch_dist.get_rank(), torch_dist.get_world_size()
        timeout = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout')
        silent = _ranks_that_did_not_time_out(rank, world_size, wait=min(timeout or 30, 60))
        culprits = ('rank(s) ' + ', '.join(map(str, silent)) + ' did not reach it (stalled '
                    'or dead)' if silent else 'the ranks that did not reach it are unknown')
        after = f'{timeout} s' if timeout is not None else "torch's default time"
        raise RuntimeError(
            f'Rank {rank} of {world_size}: a collective operation timed out after {after} '
            f'({TIMEOUT_KEY}); {culprits}. ({error})') from error
