"""Reading and writing the label PNGs of the converters, and running them with progress."""
import os
from typing import Callable, List, Sequence

import numpy as np
from PIL import Image

__all__ = ['read_index_png', 'write_grey_png', 'run_with_progress', 'list_files']


def read_index_png(path: str, what: str) -> np.ndarray:
    """Read a one-channel label PNG as its pixel values (no palette conversion).

    Args:
        path (str): the file.
        what (str): what it should be, for the error (e.g. ``'Cityscapes labelIds PNG'``).

    Returns:
        np.ndarray: (H, W) pixel values.

    Raises:
        ValueError: the file cannot be decoded or has several channels.
    """
    try:
        with Image.open(path) as pil:
            mode = pil.mode
            array = np.asarray(pil)
    except Exception as e:  # PIL raises several types for broken files
        raise ValueError(f'{path}: cannot be decoded as a {what} ({type(e).__name__}: '
                         f'{e})') from e
    if array.ndim != 2 or mode not in ('L', 'P', 'I', 'I;16'):
        raise ValueError(f'{path}: a "{mode}" image of shape {array.shape}; expected a '
                         f'{what} (one channel, pixel value = label id)')
    return array


def write_grey_png(label: np.ndarray, path: str) -> str:
    """Write class indices as an 8-bit grey ('L') PNG, the official format of these sets.

    Args:
        label (np.ndarray): (H, W) values in 0..255.
        path (str): the PNG to write (its folder must exist).

    Returns:
        str: ``path``.
    """
    Image.fromarray(np.ascontiguousarray(label, dtype=np.uint8), mode='L').save(path)
    return path


def run_with_progress(func: Callable, tasks: Sequence, nproc: int = 1) -> List:
    """``func`` on every task with mmengine's progress bar, in ``nproc`` processes.

    Args:
        func (Callable): a picklable function of one task.
        tasks (Sequence): the tasks.
        nproc (int): worker processes (1: in this process).

    Returns:
        list: the results, in task order.
    """
    from mmengine.utils import track_parallel_progress, track_progress
    if not tasks:
        return []
    if nproc > 1:
        return track_parallel_progress(func, list(tasks), nproc)
    return track_progress(func, list(tasks))


def list_files(folder: str, suffix: str) -> List[str]:
    """Paths of the files under ``folder`` (recursively) ending with ``suffix``, sorted."""
    found = []
    for root, _, names in os.walk(folder):
        found.extend(os.path.join(root, n) for n in names if n.endswith(suffix))
    return sorted(found)
