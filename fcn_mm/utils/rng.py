"""Capture, restore and isolate the process-wide random number generators.

Exact resume needs the Python, NumPy and torch (CPU and, when used, CUDA) generator
states of the moment a checkpoint was written. They are stored as plain lists, ints,
floats and tensors so that ``torch.load(weights_only=True)`` reads them without any
allow-list entry.

``preserved_rng()`` runs a block (validation, creating a DataLoader iterator, loading
one sample) without moving the training streams, and ``seeded_rng(seed)`` runs a block
under a fixed seed and then puts the previous states back.
"""
import contextlib
import random
from typing import Dict, Iterator

import numpy as np
import torch

from .device import default_device

__all__ = ['capture_rng_state', 'restore_rng_state', 'preserved_rng', 'seeded_rng']


def _cuda_in_use() -> bool:
    return default_device() == 'cuda' and torch.cuda.is_initialized()


def capture_rng_state(include_cuda: bool = True) -> Dict:
    """Return the current generator states as weights-only-loadable values.

    Args:
        include_cuda (bool): also capture every CUDA device's generator when CUDA
            is initialised in this process. Defaults to True.

    Returns:
        dict: ``python`` (version, state list, gauss_next), ``numpy`` (keys as an
        int64 tensor of shape (624,), pos, has_gauss, cached_gaussian), ``torch``
        (uint8 tensor) and ``cuda`` (list of uint8 tensors, empty without CUDA).
    """
    py_version, py_state, py_gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    cuda = []
    if include_cuda and _cuda_in_use():
        cuda = [s.clone() for s in torch.cuda.get_rng_state_all()]
    return {
        'python': {'version': py_version, 'state': list(py_state),
                   'gauss_next': py_gauss},
        'numpy': {'kind': kind, 'keys': torch.from_numpy(keys.astype(np.int64)),
                  'pos': int(pos), 'has_gauss': int(has_gauss),
                  'cached_gaussian': float(cached)},
        'torch': torch.get_rng_state().clone(),
        'cuda': cuda,
    }


def restore_rng_state(state: Dict) -> None:
    """Put back generator states made by :func:`capture_rng_state`.

    Args:
        state (dict): the captured states. CUDA states are restored only when
            CUDA is in use here and the device count matches.

    Raises:
        KeyError: if ``state`` lacks one of ``python``, ``numpy``, ``torch``.
    """
    for key in ('python', 'numpy', 'torch'):
        if key not in state:
            raise KeyError(f'RNG state is missing "{key}"; expected the dict written '
                           f'by capture_rng_state, got keys {sorted(state)}')
    py = state['python']
    random.setstate((int(py['version']), tuple(int(v) for v in py['state']),
                     py['gauss_next']))
    npy = state['numpy']
    keys = np.asarray(npy['keys'].cpu().numpy() if torch.is_tensor(npy['keys'])
                      else npy['keys'], dtype=np.uint32)
    np.random.set_state((npy.get('kind', 'MT19937'), keys, int(npy['pos']),
                         int(npy['has_gauss']), float(npy['cached_gaussian'])))
    torch.set_rng_state(state['torch'].cpu().to(torch.uint8))
    cuda = state.get('cuda') or []
    if cuda and _cuda_in_use() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu().to(torch.uint8) for s in cuda])


@contextlib.contextmanager
def preserved_rng(include_cuda: bool = True) -> Iterator[None]:
    """Run a block, then put every generator back where it was before the block.

    Args:
        include_cuda (bool): also preserve CUDA generators. Defaults to True.
    """
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch_state = torch.get_rng_state()
    cuda = include_cuda and _cuda_in_use()
    cuda_states = torch.cuda.get_rng_state_all() if cuda else None
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


@contextlib.contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Seed Python, NumPy and torch's CPU generator for a block, then restore them.

    CUDA generators are not touched (a data sample is prepared on the CPU).

    Args:
        seed (int): a seed in ``[0, 2**32)``.
    """
    with preserved_rng(include_cuda=False):
        random.seed(seed)
        np.random.seed(seed)
        torch.default_generator.manual_seed(seed)
        yield
