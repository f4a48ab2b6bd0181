"""The one deliberate side effect of fcn_mm: mmengine loads checkpoints through the safe loader.

:func:`install_checkpoint_schemes` (idempotent) makes every checkpoint that mmengine's
``CheckpointLoader`` reads (``load_from``, ``--resume``, ``init_cfg=dict(type='Pretrained')``,
``load_checkpoint``) go through :func:`fcn_mm.utils.safe_loading.load_checkpoint_file`
(``torch.load(weights_only=True)``):

* it adds fcn_mm's allow-list to torch's (:func:`~fcn_mm.utils.safe_loading.register_safe_globals`);
* local paths (scheme ``''``) load with :func:`~fcn_mm.utils.safe_loading.load_from_local`;
* ``open-mmlab://``, ``openmmlab://``, ``torchvision://``, ``modelzoo://``, ``mmcls://`` and
  ``http(s)://`` names load local files only, with
  :func:`~fcn_mm.utils.pretrained.load_from_model_zoo` (fcn_mm never downloads).

It runs when :func:`fcn_mm.utils.register_all_modules` is called and when
:mod:`fcn_mm.models` is imported (every checkpoint is loaded into a built model), so the
tools, DataLoader workers and torchrun ranks all get it. Importing ``fcn_mm`` or
``fcn_mm.registry`` does not.
"""
from mmengine.runner.checkpoint import CheckpointLoader

from .pretrained import ZOO_PREFIXES, load_from_model_zoo
from .safe_loading import load_from_local, register_safe_globals

__all__ = ['install_checkpoint_schemes']

_installed = False


def install_checkpoint_schemes() -> None:
    """Route mmengine's checkpoint loading through fcn_mm's safe loader (once per process)."""
    global _installed
    if _installed:
        return
    register_safe_globals()
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    CheckpointLoader.register_scheme(prefixes=ZOO_PREFIXES, loader=load_from_model_zoo,
                                     force=True)
    _installed = True
