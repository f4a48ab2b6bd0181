"""Crash-safe checkpoint files: atomic writes, completeness checks, newest-complete search.

Every write goes to a hidden temporary file in the destination folder
(``.<name>.tmp-<pid>-<random>``), is flushed and fsynced, renamed over the final name
with ``os.replace`` and the folder is fsynced. A reader therefore sees either the old
file or the complete new one, never a truncated file under a final name.

mmengine routes checkpoint bytes through a file backend:
:class:`fcn_mm.engine.file_backend.AtomicLocalBackend` (the ``local_atomic`` backend, the
default of fcn_mm's ``CheckpointHook``) writes through :func:`atomic_write`.

Fault injection (tests only): with ``FCN_MM_FAULT_INJECT=<point>[:<n>]`` in the
environment the process SIGKILLs itself the ``n``-th time (default 1st) it reaches
``<point>``. Points inside a write, for ``<kind>`` ``ckpt`` (bytes) or ``pointer``
(text): ``<kind>_partial`` (half the temp file written; only with the variable set is a
write split in two, through memoryview halves, so a save never copies its bytes),
``<kind>_fsynced`` (temp file complete and fsynced, not renamed), ``<kind>_renamed`` (renamed, folder not fsynced).
The CheckpointHook adds ``before_pointer`` (checkpoint in place, ``last_checkpoint``
not updated) and ``before_remove`` (pointer updated, old checkpoints not removed).
With ``<point>:<n>:hold`` the process instead prints ``FCN_MM_FAULT_HOLD <point>`` to
stderr and waits there until the file named by ``FCN_MM_FAULT_RELEASE`` exists (at most
120 s), so that a test can act (e.g. send a signal) in the middle of a save.
"""
import os
import os.path as osp
import re
import signal
import time
import uuid
import zipfile
from pathlib import Path
from typing import BinaryIO, Dict, Iterable, List, Optional, Union

__all__ = ['atomic_write', 'fault_point', 'is_complete_checkpoint', 'step_pattern',
           'find_latest_complete_checkpoint', 'remove_stale_temp_files',
           'TEMP_MARKER', 'FAULT_ENV', 'RELEASE_ENV']

FAULT_ENV = 'FCN_MM_FAULT_INJECT'
RELEASE_ENV = 'FCN_MM_FAULT_RELEASE'
TEMP_MARKER = '.tmp-'
_fault_counts: Dict[str, int] = {}


def fault_point(name: str) -> None:
    """SIGKILL this process here if ``FCN_MM_FAULT_INJECT`` names ``name`` (tests only).

    Args:
        name (str): the point reached, e.g. ``'ckpt_fsynced'``.
    """
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    point, nth, action = (spec.split(':') + ['', ''])[:3]
    if point != name:
        return
    _fault_counts[name] = _fault_counts.get(name, 0) + 1
    if _fault_counts[name] != int(nth or 1):
        return
    if action == 'hold':
        _hold(name)
    else:
        os.kill(os.getpid(), signal.SIGKILL)


def _hold(name: str, timeout: float = 120.0) -> None:
    """Wait at fault point ``name`` until the file ``$FCN_MM_FAULT_RELEASE`` exists."""
    release = os.environ.get(RELEASE_ENV, '')
    os.write(2, f'FCN_MM_FAULT_HOLD {name}\n'.encode())
    deadline = time.monotonic() + timeout
    while release and not osp.exists(release) and time.monotonic() < deadline:
        time.sleep(0.02)


def _write_with_fault_point(f: BinaryIO, data: bytes, point: str) -> None:
    """Write ``data`` in two halves with fault point ``point`` between (tests only).

    The halves are memoryview slices of ``data``: no copy of the checkpoint.
    """
    view = memoryview(data)
    half = len(view) // 2
    f.write(view[:half])
    f.flush()
    fault_point(point)
    f.write(view[half:])


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. platforms that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(data: Union[bytes, str], filepath: Union[str, Path], kind: str = 'ckpt',
                 encoding: str = 'utf-8') -> None:
    """Write ``data`` to ``filepath`` so that the final name is never half written.

    Args:
        data (bytes | str): the content; ``str`` is encoded with ``encoding``.
        filepath (str | Path): the final path; its folder is created if needed.
        kind (str): fault-injection prefix, ``'ckpt'`` or ``'pointer'``.
        encoding (str): text encoding. Defaults to ``'utf-8'``.

    Raises:
        OSError: the write failed (e.g. no space left); the message names
            ``filepath`` and the temporary file is removed.
    """
    if isinstance(data, str):
        data = data.encode(encoding)
    filepath = str(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    tmp = osp.join(folder, f'.{osp.basename(filepath)}{TEMP_MARKER}{os.getpid()}-'
                   f'{uuid.uuid4().hex[:8]}')
    try:
        os.makedirs(folder, exist_ok=True)
        with open(tmp, 'wb') as f:
            if os.environ.get(FAULT_ENV):
                _write_with_fault_point(f, data, f'{kind}_partial')
            else:
                f.write(data)  # the caller's buffer as it is: no copy
            f.flush()
            os.fsync(f.fileno())
        fault_point(f'{kind}_fsynced')
        os.replace(tmp, filepath)
    except OSError as e:
        with_tmp = osp.exists(tmp)
        if with_tmp:
            os.remove(tmp)
        raise OSError(e.errno, f'Could not write "{filepath}" ({len(data)} bytes): '
                      f'{e.strerror or e}. Check that the folder is writable and has '
                      'free space.', filepath) from e
    fault_point(f'{kind}_renamed')
    _fsync_dir(folder)


def is_complete_checkpoint(path: str) -> bool:
    """Whether ``path`` is a complete torch zip checkpoint (cheap: reads the index).

    Args:
        path (str): a file path.

    Returns:
        bool: True if the file exists, its zip directory is intact and it holds a
        ``data.pkl`` record. A truncated file has no intact directory.
    """
    if not osp.isfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n == 'data.pkl' or n.endswith('/data.pkl') for n in zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def step_pattern(filename_tmpl: str) -> 're.Pattern':
    """A regex matching the file names made by ``filename_tmpl``.

    Args:
        filename_tmpl (str): a checkpoint name template with one ``{}``, e.g.
            ``'iter_{}.pth'``.

    Returns:
        re.Pattern: matches a whole name; group 1 is the step number.

    Raises:
        ValueError: the template has no ``{}``.
    """
    head, sep, tail = filename_tmpl.partition('{}')
    if not sep:
        raise ValueError(f'filename_tmpl must contain "{{}}", got "{filename_tmpl}"')
    return re.compile(re.escape(head) + r'(\d+)' + re.escape(tail) + '$')


def find_latest_complete_checkpoint(
        folders: Iterable[str], pointer: Optional[str] = None,
        filename_tmpls: Iterable[str] = ('iter_{}.pth', 'epoch_{}.pth')) -> Optional[str]:
    """Return the newest complete checkpoint, or None.

    Candidates are the file named in ``pointer`` (mmengine's ``last_checkpoint``) and
    every file in ``folders`` matching a template. Temporary files never match.
    The newest is the one with the largest step number; the pointer's target wins
    ties and is used alone when its name carries no step number.

    Args:
        folders (Iterable[str]): folders to scan.
        pointer (str, optional): path of a ``last_checkpoint`` text file.
        filename_tmpls (Iterable[str]): checkpoint name templates with ``{}``.

    Returns:
        str | None: path of the chosen checkpoint.
    """
    patterns = [step_pattern(t) for t in filename_tmpls]
    candidates: List[tuple] = []
    if pointer and osp.isfile(pointer):
        with open(pointer, encoding='utf-8') as f:
            target = f.read().strip()
        if target and is_complete_checkpoint(target):
            steps = [int(m.group(1)) for p in patterns
                     if (m := p.match(osp.basename(target)))]
            candidates.append((steps[0] if steps else float('inf'), 1, target))
    for folder in dict.fromkeys(folders):
        if not osp.isdir(folder):
            continue
        for name in os.listdir(folder):
            for pattern in patterns:
                m = pattern.match(name)
                path = osp.join(folder, name)
                if m and is_complete_checkpoint(path):
                    candidates.append((int(m.group(1)), 0, path))
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c[0], c[1]))[2]


def _writer_alive(temp_name: str) -> bool:
    """Whether the process that named a temp file (``...tmp-<pid>-<hex>``) still runs."""
    try:
        pid = int(temp_name.rsplit(TEMP_MARKER, 1)[1].split('-')[0])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(folder: str) -> List[str]:
    """Delete temporary files left in ``folder`` by atomic writes of dead processes.

    Args:
        folder (str): the folder to clean.

    Returns:
        list[str]: the removed paths.
    """
    removed = []
    if not osp.isdir(folder):
        return removed
    for name in os.listdir(folder):
        if name.startswith('.') and TEMP_MARKER in name and not _writer_alive(name):
            path = osp.join(folder, name)
            try:
                os.remove(path)
                removed.append(path)
            except OSError:
                pass
    return removed
