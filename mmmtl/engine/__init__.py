from .atomic_local_backend import AtomicLocalBackend
from .hooks import *  # noqa: F401,F403
from .optim_wrappers import *  # noqa: F401,F403
from .runner import MultiTaskRunner

__all__ = ['AtomicLocalBackend', 'MultiTaskRunner']
