"""Checkpoint loading with ``torch.load(weights_only=True)`` and fcn_mm's allow-list.

:func:`load_checkpoint_file` (and :func:`load_checkpoint_bytes` for bytes read through a
file backend) is the only way fcn_mm reads a checkpoint; every mmengine checkpoint scheme
(``load_from``, ``--resume``, ``init_cfg=dict(type='Pretrained')``, ``load_checkpoint``) is
routed to it or refused (:mod:`fcn_mm.utils.checkpoint_schemes`). Before ``torch.load``,
:mod:`fcn_mm.utils.pickle_scan` refuses what torch's own list admits but would allocate more
than the file carries (``bytearray(n)``, tensor and storage classes called with a size,
memoised data reused beyond the file's size, compressed zip records). Beyond torch's own
``weights_only`` types (tensors, plain Python values, ``OrderedDict`` ...) it admits:

* numpy arrays and scalars of plain numeric and bool dtypes, rebuilt by
  :mod:`fcn_mm.utils.numpy_rebuild` (never by numpy's own ``__setstate__``): shapes and
  byte lengths are checked before an array exists; object, void/structured, subarray,
  string and datetime dtypes are refused;
* mmengine ``HistoryBuffer`` objects (the message hub of resume checkpoints), rebuilt by
  :mod:`fcn_mm.utils.history_buffer_rebuild` with the class's own statistics methods.

The allow-list (:data:`SAFE_GLOBALS`) is in force only inside :func:`load_checkpoint_file`:
torch's process-wide list is swapped for it around the one ``torch.load`` (under a lock)
and restored afterwards, so importing fcn_mm changes nothing for other ``torch.load``
calls (another thread's ``torch.load`` during that window meets fcn_mm's list, whose
rebuilders refuse to work outside fcn_mm's loader). Anything else is refused with the file and the reason named; so are files that
are empty, truncated or not torch checkpoints. fcn_mm never turns ``weights_only`` off.

:func:`load_from_local` is mmengine's local-file checkpoint scheme (used by ``load_from``,
``--resume``, ``init_cfg=dict(type='Pretrained')`` and ``load_checkpoint``) through
:func:`load_checkpoint_file`; ``install_checkpoint_schemes`` registers it.
"""
import contextlib
import io
import os
import os.path as osp
import pickle
import re
import struct
import threading
from typing import Any, BinaryIO, Callable, Dict, Iterator, Optional, Tuple, Union

import torch

from . import history_buffer_rebuild, numpy_rebuild
from .checkpoint_format import checkpoint_stream_problem
from .pickle_scan import SLACK_BYTES, checkpoint_scan_problem
from .unpickle_guard import finish_placeholders, first_refusal, rebuilding

__all__ = ['load_checkpoint_file', 'load_checkpoint_bytes', 'load_state_dict_file',
           'CheckpointLoadError',
           'SAFE_GLOBALS']

MapLocation = Union[str, torch.device, Callable, dict, None]

SAFE_GLOBALS: list = numpy_rebuild.SAFE_GLOBALS + history_buffer_rebuild.SAFE_GLOBALS
_ALLOW_LIST_LOCK = threading.RLock()  # re-entry reaches rebuilding()'s error, no deadlock
_CONVERT_HINT = ("if you trust the file, convert it once outside fcn_mm (docs/train_test.md, "
                 "'Loading checkpoints')")
# What a crafted or damaged pickle makes torch's unpickler (or numpy) raise.
_MALFORMED = (EOFError, IndexError, KeyError, TypeError, AttributeError, ValueError,
              OverflowError, struct.error, UnicodeDecodeError, RecursionError, MemoryError)

# RuntimeError texts of torch for a damaged archive or tensors that do not fit their data.
_DAMAGED_SIGNS = ('zip archive', 'PytorchStreamReader', 'corrupted', 'resize storage',
                  'out of bounds for storage')


class CheckpointLoadError(pickle.UnpicklingError, ValueError):
    """A checkpoint file that fcn_mm refuses to load (the message says why)."""


@contextlib.contextmanager
def _allow_list_in_force(budget: int) -> Iterator[None]:
    """torch's weights_only allow-list is exactly :data:`SAFE_GLOBALS` inside, as before after."""
    with _ALLOW_LIST_LOCK:
        saved = torch.serialization.get_safe_globals()
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(SAFE_GLOBALS)
        try:
            with rebuilding(budget):
                yield
        finally:
            torch.serialization.clear_safe_globals()
            torch.serialization.add_safe_globals(saved)


_REFUSED_PATTERNS = (
    r'GLOBAL (\S+) was not an allowed global',
    r'unsupported GLOBAL (\S+) whose module',
    r'reduce for unrecognized function (.+?)(?: which belongs|$)',
    r'but got (<class \S+>)',
)


def _refusal_reason(error: BaseException) -> str:
    """What was refused: fcn_mm's own reason, else the global in torch's error text."""
    ours = first_refusal()
    if ours is not None:
        return ours
    message = str(error)
    for pattern in _REFUSED_PATTERNS:
        match = re.search(pattern, message, flags=re.MULTILINE)
        if match:
            name = match.group(1)
            name = name if '.' in name or '<' in name else f'builtins.{name}'
            return (f"it needs {name!r}, which is not on fcn_mm's weights_only allow-list "
                    '(fcn_mm.utils.safe_loading)')
    match = re.search(r'WeightsUnpickler error:\s*(.+)', message, flags=re.DOTALL)
    detail = (match.group(1) if match else message).split('Check the documentation')[0]
    return f'its pickle is malformed ({" ".join(detail.split())})'


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
        CheckpointLoadError: the file is empty, truncated or not a torch checkpoint, or
            it holds something the allow-list or the pre-load scan refuses (the message
            names the file and the reason); also a ValueError.
    """
    filename = osp.expanduser(os.fspath(path))
    if not osp.isfile(filename):
        kind = 'is a directory, not a file' if osp.isdir(filename) else 'does not exist'
        raise FileNotFoundError(
            f'Checkpoint file {filename!r} {kind} (absolute path '
            f'{osp.abspath(filename)!r}). Check `load_from`, `--resume` or the '
            'checkpoint argument.')
    with open(filename, 'rb') as stream:  # scanned and loaded from the same open file
        return _load_stream(stream, os.fstat(stream.fileno()).st_size, filename,
                            map_location)


def load_checkpoint_bytes(data: bytes, name: str, map_location: MapLocation = 'cpu') -> Any:
    """Load a checkpoint held in memory (e.g. read through a file backend) safely.

    Args:
        data (bytes): the checkpoint's bytes, as ``torch.save`` wrote them.
        name (str): where they came from (e.g. ``'s3://bucket/iter_4.pth'``), for messages.
        map_location: as for :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        Any: the loaded object (see :func:`load_checkpoint_file`).

    Raises:
        CheckpointLoadError: as for :func:`load_checkpoint_file`.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f'Checkpoint {name!r}: expected its bytes, got '
                        f'{type(data).__name__}')
    return _load_stream(io.BytesIO(data), len(data), name, map_location)


def _load_stream(stream: BinaryIO, size: int, filename: str,
                 map_location: MapLocation) -> Any:
    """Format check, pre-load scan, then ``torch.load`` under fcn_mm's allow-list."""
    problem = checkpoint_stream_problem(stream, size)
    if problem is not None:
        raise CheckpointLoadError(f'Checkpoint file {filename!r} {problem}.')
    problem = checkpoint_scan_problem(stream, size)
    if problem is not None:
        raise CheckpointLoadError(f'Refused to load checkpoint {filename!r}: {problem}.')
    try:
        with _allow_list_in_force(budget=size + SLACK_BYTES):
            try:
                return finish_placeholders(
                    torch.load(stream, map_location=map_location, weights_only=True))
            except pickle.UnpicklingError as e:
                reason = _refusal_reason(e)
                raise CheckpointLoadError(
                    f'Refused to load checkpoint {filename!r}: {reason}. fcn_mm never '
                    f'unpickles arbitrary objects; {_CONVERT_HINT}.') from e
            except _MALFORMED as e:
                refused = first_refusal()
                if refused is not None:
                    raise CheckpointLoadError(
                        f'Refused to load checkpoint {filename!r}: {refused}.') from e
                if isinstance(e, EOFError):
                    raise CheckpointLoadError(
                        f'Checkpoint file {filename!r} is truncated: its pickle ends too '
                        'early.') from e
                raise CheckpointLoadError(
                    f'Refused to load checkpoint {filename!r}: it cannot be unpickled '
                    f'({type(e).__name__}: {" ".join(str(e).split())[:300]}).') from e
    except RuntimeError as e:
        text = str(e)
        if any(sign in text for sign in _DAMAGED_SIGNS):
            raise CheckpointLoadError(
                f'Checkpoint file {filename!r} is truncated or corrupted: torch cannot '
                f'read it ({" ".join(text.split())[:300]}).') from e
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


def load_state_dict_file(path: Union[str, os.PathLike],
                         keys: Tuple[str, ...] = ('state_dict',)) -> Dict[str, Any]:
    """Load a weights file as a ``{name: tensor}`` dict (the model converters' input).

    Args:
        path (str | PathLike): a bare state dict, or a checkpoint holding one under one
            of ``keys`` (the first present wins).
        keys (tuple[str]): the keys that may hold the state dict.

    Returns:
        dict: the state dict.

    Raises:
        TypeError: the file holds neither a dict nor a checkpoint with one of ``keys``.
    """
    checkpoint = load_checkpoint_file(path, map_location='cpu')
    if isinstance(checkpoint, dict):
        for key in keys:
            if isinstance(checkpoint.get(key), dict):
                return checkpoint[key]
        return checkpoint
    raise TypeError(f'{path}: expected a state dict ({{name: tensor}}), got '
                    f'{type(checkpoint).__name__}')
