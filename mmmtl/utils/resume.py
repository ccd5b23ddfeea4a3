"""What ``--resume`` will resume from, checked before the run starts."""
import logging
import os
import os.path as osp

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import find_latest_checkpoint


def check_resume(cfg: Config) -> None:
    """For ``cfg.resume``: refuse a ``load_from`` checkpoint (the one asked for) that does
    not exist; warn in one line when the work dir has no checkpoint, so training starts
    from scratch (mmengine would only log ``resumed from ... None``)."""
    if not cfg.get('resume'):
        return
    load_from = cfg.get('load_from')
    if load_from:
        if '://' not in load_from and not osp.isfile(load_from):
            raise FileNotFoundError(f'--resume from load_from={load_from!r}: no such checkpoint '
                                    f'(looked for {osp.abspath(load_from)}).')
        return
    if find_latest_checkpoint(cfg.work_dir) is None and os.environ.get('RANK', '0') == '0':
        print_log(f'--resume: no checkpoint to resume in {cfg.work_dir} (no last_checkpoint '
                  'file); training starts from scratch.', logger='current',
                  level=logging.WARNING)
