"""--resume with nothing to resume says so in one warning line; a checkpoint asked for
by name (load_from) that does not exist is refused before the run starts (issue 28)."""
import logging

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from mmmtl.utils.resume import resolve_resume


def config(work_dir, **kwargs) -> Config:
    return Config(dict(dict(work_dir=str(work_dir), resume=True, load_from=None), **kwargs))


def warnings_of(caplog) -> list:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.fixture
def caplog(caplog):
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def test_empty_work_dir_warns_once(tmp_path, caplog):
    cfg = config(tmp_path)
    resolve_resume(cfg)
    assert not cfg.resume  # a fresh run
    assert warnings_of(caplog) == [
        f'--resume: no checkpoint to resume in {tmp_path} (no last_checkpoint file); '
        'training starts from scratch.']


def test_work_dir_with_a_checkpoint_is_quiet(tmp_path, caplog):
    torch.save(dict(state_dict=dict(w=torch.zeros(4))), tmp_path / 'iter_4.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    cfg = config(tmp_path)
    resolve_resume(cfg)
    assert cfg.resume and cfg.load_from == str(tmp_path / 'iter_4.pth')
    resolve_resume(config(tmp_path, resume=False))
    assert warnings_of(caplog) == []


def test_missing_named_checkpoint_is_refused(tmp_path):
    missing = str(tmp_path / 'iter_8000.pth')
    with pytest.raises(FileNotFoundError, match='load_from=.*iter_8000.pth.*no such'):
        resolve_resume(config(tmp_path, load_from=missing))
