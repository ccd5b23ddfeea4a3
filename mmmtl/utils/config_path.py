"""Stop a run whose config file does not exist, naming the closest configs.

Only the standard library is used, so that the shell launchers can run this
file before they start any process (``python mmmtl/utils/config_path.py CONFIG``).
"""
import difflib
import glob
import os.path as osp
import sys
from typing import List


def closest_configs(path: str, num: int = 3) -> List[str]:
    """The existing configs whose paths are most like ``path``.

    Candidates are the runnable configs under ``configs/`` of the working
    directory and the ``.py`` files in the folder ``path`` names.
    """
    candidates = {
        osp.relpath(found)
        for found in glob.glob(osp.join('configs', '**', '*.py'), recursive=True) +
        glob.glob(osp.join(osp.dirname(path) or '.', '*.py'))
        if '_base_' not in found.split(osp.sep)
    }
    wanted = osp.normpath(path)
    by_path = difflib.get_close_matches(wanted, candidates, n=num, cutoff=0.5)
    by_name = {osp.basename(c): c for c in sorted(candidates)}
    by_name = [
        by_name[name]
        for name in difflib.get_close_matches(osp.basename(wanted), by_name, n=num, cutoff=0.6)
    ]
    return list(dict.fromkeys(by_path + by_name))[:num]


def missing_config_message(path: str) -> str:
    """One line: ``path`` does not exist, and the closest existing configs."""
    message = f'config {path!r} does not exist (looked for {osp.abspath(path)})'
    closest = closest_configs(path)
    if closest:
        message += '; closest existing: ' + ', '.join(closest)
    return message


def check_config_path(path: str) -> None:
    """Exit with :func:`missing_config_message` unless ``path`` is a file."""
    if not osp.isfile(path):
        raise SystemExit(f'error: {missing_config_message(path)}')


if __name__ == '__main__':
    if len(sys.argv) != 2:
        raise SystemExit(f'usage: python {sys.argv[0]} CONFIG')
    check_config_path(sys.argv[1])
