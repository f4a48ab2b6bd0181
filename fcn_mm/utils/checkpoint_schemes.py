"""The one deliberate side effect of fcn_mm: mmengine loads checkpoints through the safe loader.

:func:`install_checkpoint_schemes` (idempotent) routes mmengine's ``CheckpointLoader`` (``load_from``, ``--resume``,
``init_cfg=dict(type='Pretrained')``, ``load_checkpoint``) through
:func:`fcn_mm.utils.safe_loading.load_checkpoint_file`: local paths (scheme ``''``), and
model-zoo names and URLs (``open-mmlab://``, ``torchvision://``, ``mmcls://``, ``http(s)://``
...), which are mapped to local files only (:mod:`fcn_mm.utils.pretrained`). It adds
nothing to torch's process-wide ``weights_only`` allow-list: fcn_mm's allow-list is in
force only inside ``load_checkpoint_file``.

:func:`fcn_mm.utils.register_all_modules` and importing :mod:`fcn_mm.models` call it (every
checkpoint is loaded into a built model); importing ``fcn_mm`` or ``fcn_mm.registry`` does not.
"""
from mmengine.runner.checkpoint import CheckpointLoader

from .pretrained import ZOO_PREFIXES, load_from_model_zoo
from .safe_loading import load_from_local

__all__ = ['install_checkpoint_schemes']

_installed = False


def install_checkpoint_schemes() -> None:
    """Route mmengine's checkpoint loading through fcn_mm's safe loader (once per process)."""
    global _installed
    if _installed:
        return
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    CheckpointLoader.register_scheme(prefixes=ZOO_PREFIXES, loader=load_from_model_zoo,
                                     force=True)
    _installed = True
