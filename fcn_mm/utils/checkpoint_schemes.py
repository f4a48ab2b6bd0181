"""The one deliberate side effect of fcn_mm: mmengine loads checkpoints through the safe loader.

:func:`install_checkpoint_schemes` (idempotent) routes every scheme of mmengine's
``CheckpointLoader`` (``load_from``, ``--resume``, ``init_cfg=dict(type='Pretrained')``,
``load_checkpoint``) through fcn_mm's safe loader or refuses it with the reason:

* local paths (scheme ``''``): :func:`fcn_mm.utils.safe_loading.load_checkpoint_file`;
* model-zoo names and URLs (``open-mmlab://``, ``torchvision://``, ``mmcls://``,
  ``http(s)://`` ...): mapped to local files only (:mod:`fcn_mm.utils.pretrained`);
* ``s3://`` and ``petrel://`` (with an optional ``name:`` before them, as mmengine
  accepts): the bytes are read through mmengine's file backend (``petrel``, as mmengine's
  own loader does), then loaded by :func:`fcn_mm.utils.safe_loading.load_checkpoint_bytes`;
* ``pavi://`` and any other scheme registered before fcn_mm's (mmengine's own loaders call
  ``torch.load`` without ``weights_only``, which ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``
  turns into a full unpickler): refused, with what to do instead.

It adds nothing to torch's process-wide ``weights_only`` allow-list: fcn_mm's allow-list
is in force only inside the safe loader.

:func:`fcn_mm.utils.register_all_modules` and importing :mod:`fcn_mm.models` call it (every
checkpoint is loaded into a built model); importing ``fcn_mm`` or ``fcn_mm.registry`` does not.
"""
from typing import Any, Callable

from mmengine.fileio import get_file_backend
from mmengine.runner.checkpoint import CheckpointLoader

from .pretrained import ZOO_PREFIXES, load_from_model_zoo
from .safe_loading import CheckpointLoadError, load_checkpoint_bytes, load_from_local

__all__ = ['install_checkpoint_schemes', 'load_from_file_backend', 'FILE_BACKEND_PREFIXES']

FILE_BACKEND_PREFIXES = (r'(\S+\:)?s3://', r'(\S+\:)?petrel://')
_installed = False


def load_from_file_backend(filename: str, map_location: Any = None,
                           backend: str = 'petrel') -> Any:
    """mmengine ``CheckpointLoader`` scheme for ``s3://`` / ``petrel://``: bytes, then safe.

    Args:
        filename (str): e.g. ``'s3://bucket/work_dir/iter_4.pth'``.
        map_location: as for :func:`torch.load`.
        backend (str): the mmengine file backend that reads the bytes. Defaults to
            ``'petrel'`` (as mmengine's own ``load_from_ceph``).

    Returns:
        Any: the loaded checkpoint (see :func:`fcn_mm.utils.safe_loading.load_checkpoint_file`).
    """
    file_backend = get_file_backend(filename, backend_args={'backend': backend})
    return load_checkpoint_bytes(file_backend.get(filename), filename, map_location)


def _refusing_loader(prefix: str) -> Callable:
    def refuse_scheme(filename: str, map_location: Any = None, *args, **kwargs) -> Any:
        raise CheckpointLoadError(
            f'Checkpoint {filename!r}: fcn_mm does not load the {prefix!r} scheme: '
            "mmengine's loader for it calls torch.load without weights_only (which "
            'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 turns into a full unpickler) and fcn_mm '
            'never downloads at run time. Fetch the file with that service\'s own tools '
            'and pass its local path, or use an s3:// or petrel:// path.')
    return refuse_scheme


def install_checkpoint_schemes() -> None:
    """Route mmengine's checkpoint loading through fcn_mm's safe loader (once per process)."""
    global _installed
    if _installed:
        return
    ours = {'': load_from_local}
    ours.update((prefix, load_from_model_zoo) for prefix in ZOO_PREFIXES)
    ours.update((prefix, load_from_file_backend) for prefix in FILE_BACKEND_PREFIXES)
    for prefix in CheckpointLoader._schemes:  # pavi:// and whatever else is registered
        ours.setdefault(prefix, _refusing_loader(prefix))
    for prefix, loader in ours.items():
        CheckpointLoader.register_scheme(prefixes=prefix, loader=loader, force=True)
    _installed = True
