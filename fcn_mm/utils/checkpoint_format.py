"""Tell a torch checkpoint from a file that is empty, truncated or something else.

``torch.save`` writes a zip archive (``<name>/data.pkl`` plus one record per storage) or,
with ``_use_new_zipfile_serialization=False``, the legacy format: a pickled magic number
first. Anything else is not a checkpoint, and a zip archive whose end record is missing
was cut short. Only the file's first bytes and the zip directory are read.
"""
import os
import zipfile
from typing import BinaryIO, Optional

__all__ = ['checkpoint_format_problem', 'checkpoint_stream_problem']

_ZIP_MAGIC = b'PK\x03\x04'
_LEGACY_MAGIC = b'\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19'  # pickled torch.serialization.MAGIC_NUMBER
_HINT = ('expected a file written by torch.save (a .pth checkpoint); check the path given '
         'to `load_from`, `--resume` or the checkpoint argument')


def checkpoint_format_problem(filename: str) -> Optional[str]:
    """Why ``filename`` cannot be a torch checkpoint, or None if it may be one.

    Args:
        filename (str): an existing file.

    Returns:
        str | None: ``'is empty (0 bytes) ...'``, ``'is truncated ...'`` or ``'is not a
        torch checkpoint ...'`` (to follow the file's name in a message), else None.
    """
    with open(filename, 'rb') as f:
        return checkpoint_stream_problem(f, os.path.getsize(filename))


def checkpoint_stream_problem(stream: BinaryIO, size: int) -> Optional[str]:
    """:func:`checkpoint_format_problem` for an open, seekable checkpoint.

    Args:
        stream (BinaryIO): the checkpoint (a file or ``io.BytesIO``), read from its start.
        size (int): its size in bytes.

    Returns:
        str | None: the problem, as for :func:`checkpoint_format_problem`.
    """
    if size == 0:
        return f'is empty (0 bytes), not a torch checkpoint: {_HINT}'
    stream.seek(0)
    head = stream.read(64)
    stream.seek(0)
    if head.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(stream) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile:
            return (f'is truncated: it starts as a zip archive (torch.save) but its end '
                    f'record is missing ({size} bytes); it was cut short, e.g. by a copy or '
                    'a save that did not finish')
        finally:
            stream.seek(0)
        if not any(name == 'data.pkl' or name.endswith('/data.pkl') for name in names):
            return (f'is not a torch checkpoint: a zip archive without data.pkl '
                    f'({len(names)} entries); {_HINT}')
        return None
    if _LEGACY_MAGIC in head[:32]:
        return None
    if size < len(_LEGACY_MAGIC) + 2 and head.startswith(b'\x80'):
        return f'is truncated ({size} bytes): {_HINT}'
    return (f'is not a torch checkpoint: it is neither a zip archive nor a legacy torch '
            f'file (first bytes {head[:8]!r}); {_HINT}')
