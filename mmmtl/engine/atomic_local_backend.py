"""A local file backend whose writes are atomic (for checkpoints)."""
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

from mmmtl.utils.fileio import atomic_write


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """:class:`mmengine.fileio.LocalBackend` whose ``put`` / ``put_text`` go
    through :func:`mmmtl.utils.fileio.atomic_write`: a process killed while
    writing, or a full disk, never leaves a truncated file at the target path.

    Select it with ``backend_args=dict(backend='atomic_local')`` (what
    :class:`~mmmtl.engine.hooks.AtomicCheckpointHook` does for local
    directories).
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(filepath, obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        atomic_write(filepath, obj.encode(encoding))
