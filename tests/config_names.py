"""The short config names users type (``configs/kdam/swinT_nyud.py``): each is
its long-named config plus a work dir of its own, so the tests that build
every network build the long-named config only."""
import os.path as osp
import re

SHORT_NAME = re.compile(r'^[A-Za-z0-9]+_(nyud|pascal)\.py$')


def is_short_name(path: str) -> bool:
    return bool(SHORT_NAME.match(osp.basename(path)))
