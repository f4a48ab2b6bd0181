"""Check a work dir before a run starts, so a bad path fails at once with its name."""
import os
import os.path as osp
import shutil
import uuid

__all__ = ['WorkDirError', 'check_work_dir']

_DEFAULT_MIN_FREE_MB = 64


class WorkDirError(OSError):
    """The work dir cannot be created, written, or has too little free space."""


def _first_existing_parent(path: str) -> str:
    parent = path
    while parent and not osp.exists(parent):
        up = osp.dirname(parent)
        if up == parent:
            break
        parent = up
    return parent


def _create(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        blocker = _first_existing_parent(path)
        why = (f'"{blocker}" is a file, not a folder' if osp.isfile(blocker)
               else e.strerror or str(e))
        raise WorkDirError(e.errno, f'Cannot create the work dir "{path}": {why}. '
                           'Pass another --work-dir (or set work_dir in the config).') from e
    if not osp.isdir(path):
        raise WorkDirError(f'The work dir "{path}" exists but is not a folder. '
                           'Pass another --work-dir (or set work_dir in the config).')


def _probe_write(path: str) -> None:
    probe = osp.join(path, f'.write_probe-{os.getpid()}-{uuid.uuid4().hex[:8]}')
    try:
        with open(probe, 'wb') as f:
            f.write(b'fcn_mm')
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise WorkDirError(e.errno, f'The work dir "{path}" is not writable: '
                           f'{e.strerror or e}. Pass another --work-dir (or set '
                           'work_dir in the config).') from e
    finally:
        if osp.exists(probe):
            os.remove(probe)


def check_work_dir(path: str, min_free_mb: float = _DEFAULT_MIN_FREE_MB) -> str:
    """Create ``path`` if needed and check that it is writable and has free space.

    Call it before building the Runner: mmengine creates the work dir in its
    constructor and would otherwise fail with a bare OS error, or only at the first
    checkpoint.

    Args:
        path (str): the work dir.
        min_free_mb (float): minimum free space in MiB on its file system.
            Defaults to 64. Use 0 to skip the check.

    Returns:
        str: the absolute path of the work dir.

    Raises:
        TypeError: if ``path`` is not a string or path.
        WorkDirError: an ``OSError`` whose message names ``path`` and the reason.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f'work_dir must be a path string, got {type(path).__name__}: '
                        f'{path!r}')
    path = osp.abspath(osp.expanduser(os.fspath(path)))
    _create(path)
    _probe_write(path)
    if min_free_mb > 0:
        free_mb = shutil.disk_usage(path).free / 2**20
        if free_mb < min_free_mb:
            raise WorkDirError(f'The work dir "{path}" has only {free_mb:.1f} MiB free; '
                               f'at least {min_free_mb} MiB are needed for logs and '
                               'checkpoints. Free some space or pass another --work-dir.')
    return path
