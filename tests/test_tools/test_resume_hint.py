"""--resume with nothing to resume says so in one warning line; a checkpoint asked for
by name (load_from) that does not exist is refused before the run starts (issue 28)."""
import logging

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger

from mmmtl.utils.resume import check_resume


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
    check_resume(config(tmp_path))
    assert warnings_of(caplog) == [
        f'--resume: no checkpoint to resume in {tmp_path} (no last_checkpoint file); '
        'training starts from scratch.']


def test_work_dir_with_a_checkpoint_is_quiet(tmp_path, caplog):
    (tmp_path / 'iter_4.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    check_resume(config(tmp_path))
    check_resume(config(tmp_path, resume=False))
    assert warnings_of(caplog) == []


def test_missing_named_checkpoint_is_refused(tmp_path):
    missing = str(tmp_path / 'iter_8000.pth')
    with pytest.raises(FileNotFoundError, match='load_from=.*iter_8000.pth.*no such'):
        check_resume(config(tmp_path, load_from=missing))
