"""The ``local_atomic`` mmengine file backend: local files whose writes are atomic.

fcn_mm's ``CheckpointHook`` uses it by default for local folders, so a checkpoint or
``last_checkpoint`` under its final name is never half written (see
:func:`fcn_mm.utils.checkpoint_files.atomic_write`).
"""
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

from fcn_mm.utils.checkpoint_files import atomic_write

__all__ = ['AtomicLocalBackend']


@register_backend('local_atomic')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose ``put``/``put_text`` are atomic.

    Select it with ``backend_args=dict(backend='local_atomic')``.
    """

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Atomically write bytes to ``filepath`` (see :func:`atomic_write`)."""
        atomic_write(obj, filepath, kind='ckpt')

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Atomically write text to ``filepath`` (see :func:`atomic_write`)."""
        atomic_write(obj, filepath, kind='pointer', encoding=encoding)
