"""Distributed set-up that also works on machines without GPUs."""
import os
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def init_cpu_distributed(cfg: Config, launcher: str,
                         timeout_minutes: Optional[int] = None) -> bool:
    """Start a gloo process group for ``launcher='pytorch'`` runs on CPU.

    mmengine 0.10.7's pytorch launcher calls ``torch.cuda.set_device``
    unconditionally, which fails without GPUs. When no GPU is visible we
    initialise the process group ourselves (gloo) before the Runner is built,
    so that ``Runner.setup_env`` sees a ready process group and skips its own
    ``init_dist``, and we make DDP wrap the model without ``device_ids``.

    Args:
        cfg: The run's config; ``env_cfg.dist_cfg`` and
            ``model_wrapper_cfg`` are updated in place.
        launcher: The ``--launcher`` argument of the tool.
        timeout_minutes: Optional process-group timeout.

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
        if timeout_minutes is not None:
            import datetime
            kwargs['timeout'] = datetime.timedelta(minutes=timeout_minutes)
        torch_dist.init_process_group(backend='gloo', **kwargs)
    return True
