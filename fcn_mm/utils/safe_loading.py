"""Checkpoint loading with ``torch.load(weights_only=True)`` and one allow-list.

:func:`register_safe_globals` (called by
:func:`fcn_mm.utils.checkpoint_schemes.install_checkpoint_schemes`) registers the
globals that fcn_mm's own checkpoints need beyond torch's defaults:

* numpy arrays, dtypes and scalars, under numpy 2 names (``numpy._core.multiarray.
  _reconstruct``, ``numpy._core.multiarray.scalar``) and numpy 1 names
  (``numpy.core.multiarray._reconstruct``, ``numpy.core.multiarray.scalar``), plus
  ``numpy.ndarray``, ``numpy.dtype`` and every dtype class (``numpy.dtypes.Float64DType``
  ...). This covers ``dataset_meta`` palettes and ``np.random.get_state()`` tuples.
* mmengine's ``HistoryBuffer`` (the message hub of resume checkpoints). A pickled
  ``HistoryBuffer`` names its statistics methods through ``builtins.getattr``; that
  name is bound to :func:`_history_buffer_getattr`, a stand-in that returns only
  ``HistoryBuffer.min/max/current/mean`` and refuses everything else. The real
  ``getattr`` is never allowed.

Plain Python RNG state (``random.getstate()``: tuples of ints) and torch RNG state
(uint8 tensors) need nothing extra. Not allowed: ``numpy.random.RandomState`` /
``Generator`` objects (save ``get_state()`` / ``bit_generator.state`` instead), and
any other class or function. fcn_mm never turns ``weights_only`` off.

:func:`load_from_local` is mmengine's local-file checkpoint scheme (used by ``load_from``,
``--resume``, ``init_cfg=dict(type='Pretrained')`` and ``load_checkpoint``) through
:func:`load_checkpoint_file`; ``install_checkpoint_schemes`` registers it.
"""
import os
import os.path as osp
import pickle
import re
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

__all__ = ['load_checkpoint_file', 'CheckpointLoadError', 'SAFE_GLOBALS',
           'register_safe_globals']

MapLocation = Union[str, torch.device, Callable, dict, None]

# The statistics methods a HistoryBuffer pickles by name (mmengine's defaults).
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


class CheckpointLoadError(pickle.UnpicklingError, ValueError):
    """A checkpoint needs a global that the ``weights_only`` allow-list refuses."""


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` while unpickling: HistoryBuffer stats only.

    Args:
        obj (Any): must be the ``HistoryBuffer`` class itself.
        name (str): one of ``min``, ``max``, ``current``, ``mean``.

    Returns:
        Callable: the unbound statistics method ``HistoryBuffer.<name>``.
    """
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'Refused global: builtins.getattr({obj!r}, {name!r}); fcn_mm allows '
        'getattr only for HistoryBuffer statistics methods '
        f'{_HISTORY_BUFFER_METHODS}')


def _numpy_globals() -> list:
    """Numpy reconstructors, ``ndarray``, ``dtype`` and all dtype classes."""
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    scalar = np.float64(0).__reduce__()[0]
    found = [np.ndarray, np.dtype]
    for name in ('numpy._core', 'numpy.core'):
        found.append((reconstruct, f'{name}.multiarray._reconstruct'))
        found.append((scalar, f'{name}.multiarray.scalar'))
    dtype_classes = {type(np.dtype(code)) for code in np.typecodes['All']}
    dtypes_module = getattr(np, 'dtypes', None)  # numpy >= 1.25
    for name in dir(dtypes_module) if dtypes_module is not None else []:
        obj = getattr(dtypes_module, name)
        if isinstance(obj, type) and issubclass(obj, np.dtype):
            dtype_classes.add(obj)
    found.extend(cls for cls in sorted(dtype_classes, key=str) if cls is not np.dtype)
    return found


SAFE_GLOBALS: list = _numpy_globals() + [
    HistoryBuffer,
    (_history_buffer_getattr, 'builtins.getattr'),
]


def register_safe_globals() -> None:
    """Add :data:`SAFE_GLOBALS` to torch's ``weights_only`` allow-list (idempotent)."""
    torch.serialization.add_safe_globals(SAFE_GLOBALS)


_REFUSED_PATTERNS = (
    r'Refused global: (builtins\.getattr\(.*?\))(?: fcn_mm|;|$)',
    r'GLOBAL (\S+) was not an allowed global',
    r'unsupported GLOBAL (\S+) whose module',
    r'reduce for unrecognized function (.+?)(?: which belongs|$)',
    r'but got (<class \S+>)',
)


def _refused_global(message: str) -> str:
    """Pull the refused global's name out of torch's weights_only error text."""
    for pattern in _REFUSED_PATTERNS:
        match = re.search(pattern, message, flags=re.MULTILINE)
        if match:
            name = match.group(1)
            return name if '.' in name or '<' in name else f'builtins.{name}'
    lines = [line for line in message.splitlines() if line.strip()]
    return lines[-1].strip() if lines else message


def load_checkpoint_file(path: Union[str, os.PathLike],
                         map_location: MapLocation = 'cpu') -> Any:
    """Load a local checkpoint with ``torch.load(weights_only=True)``.

    Args:
        path (str | PathLike): the checkpoint file (``~`` is expanded).
        map_location: as for :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        Any: the loaded object, usually a dict with ``state_dict`` / ``meta``.

    Raises:
        FileNotFoundError: ``path`` is not an existing file.
        CheckpointLoadError: the file needs a global outside the allow-list (the
            message names the file and the refused global); also a ValueError.
    """
    filename = osp.expanduser(os.fspath(path))
    if not osp.isfile(filename):
        kind = 'is a directory, not a file' if osp.isdir(filename) else 'does not exist'
        raise FileNotFoundError(
            f'Checkpoint file {filename!r} {kind} (absolute path '
            f'{osp.abspath(filename)!r}). Check `load_from`, `--resume` or the '
            'checkpoint argument.')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        refused = _refused_global(str(e))
        raise CheckpointLoadError(
            f'Refused to load checkpoint {filename!r}: it needs {refused!r}, which is '
            "not on fcn_mm's weights_only allow-list (fcn_mm.utils.safe_loading). "
            'fcn_mm never unpickles arbitrary objects; if you trust the file, re-save '
            'only its tensors (e.g. {"state_dict": ...}).') from e
    except RuntimeError as e:
        if 'zip archive' in str(e) or 'PytorchStreamReader' in str(e):
            raise ValueError(f'Checkpoint file {filename!r} is not a readable torch '
                             f'checkpoint (truncated or not made by torch.save): {e}'
                             ) from e
        raise


def load_from_local(filename: str, map_location: Optional[MapLocation] = None) -> Any:
    """mmengine ``CheckpointLoader`` scheme for local paths (``prefixes=''``).

    Args:
        filename (str): local checkpoint path.
        map_location: as for :func:`torch.load`.

    Returns:
        Any: the loaded checkpoint (see :func:`load_checkpoint_file`).
    """
    return load_checkpoint_file(filename, map_location=map_location)

