"""What ``--resume`` will resume from, decided before the run starts."""
import logging
import os
import os.path as osp

from mmengine.config import Config
from mmengine.logging import print_log

from .checkpoint import find_resumable_checkpoint


def resolve_resume(cfg: Config) -> None:
    """Set ``cfg.load_from`` / ``cfg.resume`` for a run started with ``--resume``.

    - A checkpoint asked for by name (``load_from``) must exist: refused
      before the run starts otherwise.
    - Else the newest complete checkpoint of ``cfg.work_dir``
      (:func:`~mmmtl.utils.checkpoint.find_resumable_checkpoint`: mmengine
      trusts ``last_checkpoint`` blindly, an empty marker or one naming a
      missing or truncated file would make resuming fail although complete
      checkpoints exist).
    - Else nothing to resume: one warning line, and a fresh run.
    """
    if not cfg.get('resume'):
        return
    load_from = cfg.get('load_from')
    if load_from:
        if '://' not in load_from and not osp.isfile(load_from):
            raise FileNotFoundError(f'--resume from load_from={load_from!r}: no such checkpoint '
                                    f'(looked for {osp.abspath(load_from)}).')
        return
    checkpoint = find_resumable_checkpoint(cfg.work_dir)
    if checkpoint is not None:
        cfg.load_from = checkpoint
        return
    cfg.resume = False
    if os.environ.get('RANK', '0') == '0':
        print_log(f'--resume: no checkpoint to resume in {cfg.work_dir} (no last_checkpoint '
                  'file); training starts from scratch.', logger='current',
                  level=logging.WARNING)
