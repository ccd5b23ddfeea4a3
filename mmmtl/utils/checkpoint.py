"""Checkpoints: safe loading under ``weights_only=True``, and finding a complete one.

PyTorch >= 2.6 unpickles checkpoints with ``weights_only=True`` by default.
mmengine 0.10.7 writes a few non-tensor objects into its checkpoints (numpy
scalars and arrays in ``meta`` and the message hub, ``ConfigDict``, and
``HistoryBuffer`` whose pickled state refers to its statistics methods through
``getattr(HistoryBuffer, 'mean')``), so loading them fails. Instead of turning
``weights_only`` off, which would execute arbitrary pickles (teachers come from
other people), we allow-list exactly those types, and stand in for
``builtins.getattr`` with a function that only resolves the public methods of
the allow-listed mmengine classes.

``--resume`` uses :func:`find_resumable_checkpoint`, which never trusts a
``last_checkpoint`` marker that names a missing or incomplete file.
"""
import collections
import logging
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, List, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import print_log


def _numpy_safe_globals() -> List[Any]:
    try:  # numpy >= 2 moved numpy.core to numpy._core
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    safe: List[Any] = [np.ndarray, np.dtype]
    # A checkpoint written under either numpy major version names these paths.
    for core in ('numpy.core', 'numpy._core'):
        safe += [(scalar, f'{core}.multiarray.scalar'),
                 (_reconstruct, f'{core}.multiarray._reconstruct')]
    # numpy >= 1.25 pickles dtypes as instances of numpy.dtypes.*DType.
    dtypes_module = getattr(np, 'dtypes', None)
    if dtypes_module is not None:
        safe += [
            getattr(dtypes_module, name) for name in dir(dtypes_module)
            if name.endswith('DType')
        ]
    return safe


def _mmengine_classes() -> Tuple[type, ...]:
    from mmengine.config import ConfigDict
    from mmengine.logging import HistoryBuffer
    return ConfigDict, HistoryBuffer


def restricted_getattr(obj: Any, name: str) -> Any:
    """``getattr`` limited to public methods of allow-listed mmengine classes.

    mmengine pickles ``HistoryBuffer._statistics_methods`` as
    ``getattr(HistoryBuffer, 'min')`` etc. A general ``getattr`` would let a
    malicious pickle walk to ``os.system``, so anything else is refused.
    """
    if (not isinstance(obj, type) or obj not in _mmengine_classes()
            or name.startswith('_') or not callable(obj.__dict__.get(name))):
        raise pickle.UnpicklingError(
            f'Refusing getattr({obj!r}, {name!r}) while loading a checkpoint '
            'with weights_only=True: only public methods of mmengine classes '
            'are allowed.')
    return getattr(obj, name)


def mmengine_safe_types() -> List[Any]:
    """Return the globals allowed in mmengine / mmseg / mmmtl checkpoints.

    Entries are objects or ``(object, 'module.qualname')`` pairs, the form
    ``torch.serialization.add_safe_globals`` accepts.
    """
    return (_numpy_safe_globals() + list(_mmengine_classes()) +
            [(restricted_getattr, 'builtins.getattr')] +
            [collections.deque, collections.defaultdict, set, frozenset, slice])


def allow_mmengine_checkpoint_types() -> None:
    """Allow-list :func:`mmengine_safe_types` for ``torch.load``.

    Safe to call more than once. Does nothing on torch < 2.4, which has no
    ``torch.serialization.add_safe_globals``.
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:  # pragma: no cover - old torch
        return
    add_safe_globals(mmengine_safe_types())


CHECKPOINT_NAME = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a whole checkpoint file as ``torch.save`` writes it.

    ``torch.save`` writes a zip archive whose central directory comes last, so
    a file cut short (a killed write, a full disk) has none. Reads only the
    archive's directory, not the tensors.
    """
    if not osp.isfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` continues from, or None for a fresh run.

    mmengine's ``find_latest_checkpoint`` returns whatever ``last_checkpoint``
    says. Here it is trusted only if it names a complete checkpoint; if the
    marker is missing, empty, or names a missing or incomplete file, the
    newest complete ``iter_<n>.pth`` / ``epoch_<n>.pth`` in ``work_dir`` is
    used, with a warning.

    Raises:
        FileNotFoundError: checkpoints exist but none is complete; the error
            lists them (resuming from scratch would silently drop them).
    """
    marker = osp.join(work_dir, 'last_checkpoint')
    named = None
    if osp.isfile(marker):
        with open(marker) as handle:
            named = handle.read().strip() or None
        if named is not None and not osp.isabs(named) and not osp.isfile(named):
            named = osp.join(work_dir, named)
        if named is not None and is_complete_checkpoint(named):
            return named
    directories = {work_dir} | ({osp.dirname(named)} if named else set())
    candidates = sorted(
        (int(match.group(1)), osp.join(directory, name)) for directory in directories
        if osp.isdir(directory) for name in os.listdir(directory)
        for match in [CHECKPOINT_NAME.match(name)] if match)
    complete = [path for _, path in candidates if is_complete_checkpoint(path)]
    if not osp.isfile(marker) and not candidates:
        return None
    problem = (f'{marker} is missing' if not osp.isfile(marker) else
               f'{marker} is empty' if named is None else
               f'{marker} names {named}, which is missing' if not osp.isfile(named) else
               f'{marker} names {named}, which is incomplete (truncated or corrupt)')
    if complete:
        print_log(f'{problem}; resuming from the newest complete checkpoint {complete[-1]}.',
                  logger='current', level=logging.WARNING)
        return complete[-1]
    if candidates:
        raise FileNotFoundError(
            f'Cannot resume: {problem}, and no checkpoint in {work_dir} is complete: '
            f'{", ".join(path for _, path in candidates)}. Move them away to train from '
            'scratch, or point --work-dir at a run with a complete checkpoint.')
    print_log(f'{problem} and {work_dir} holds no checkpoint: training from scratch.',
              logger='current', level=logging.WARNING)
    return None


def read_checkpoint(filename: str, map_location: Any = 'cpu') -> dict:
    """Read a checkpoint file (or URL) the safe way; every error names the file.

    Local files are read with ``torch.load(weights_only=True)`` (the types
    mmengine writes into checkpoints are allow-listed, nothing else is
    unpickled: a refused pickle raises ``pickle.UnpicklingError``); URLs go
    through mmengine's ``CheckpointLoader``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be read (truncated, corrupt, not a
            checkpoint) or holds no dict.
    """
    allow_mmengine_checkpoint_types()
    if '://' in filename:
        from mmengine.runner.checkpoint import CheckpointLoader
        checkpoint = CheckpointLoader.load_checkpoint(filename, map_location=map_location)
    else:
        if not osp.isfile(filename):
            raise FileNotFoundError(f'Checkpoint {filename!r} does not exist.')
        try:
            checkpoint = torch.load(filename, map_location=map_location, weights_only=True)
        except (RuntimeError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f'Checkpoint {filename!r} cannot be read: it is truncated or '
                             f'corrupt ({error})') from error
    if not isinstance(checkpoint, dict):
        raise ValueError(f'Checkpoint {filename!r} holds a {type(checkpoint).__name__}, '
                         'not a dict.')
    return checkpoint
