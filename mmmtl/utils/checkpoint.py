"""Safe loading of mmengine / mmseg checkpoints under ``weights_only=True``.

PyTorch >= 2.6 unpickles checkpoints with ``weights_only=True`` by default.
mmengine 0.10.7 writes a few non-tensor objects into its checkpoints (numpy
scalars and arrays in ``meta`` and the message hub, ``ConfigDict``, and
``HistoryBuffer`` whose pickled state refers to its statistics methods through
``getattr(HistoryBuffer, 'mean')``), so loading them fails. Instead of turning
``weights_only`` off, which would execute arbitrary pickles (teachers come from
other people), we allow-list exactly those types, and stand in for
``builtins.getattr`` with a function that only resolves the public methods of
the allow-listed mmengine classes.
"""
import collections
import pickle
from typing import Any, List, Tuple

import numpy as np
import torch


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
