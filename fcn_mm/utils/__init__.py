"""Utilities (floor 2: they import only ``fcn_mm.registry`` and ``fcn_mm.structures``).

Registration, config load + check, checkpoint safety and files, device decisions, rng
state, label PNGs, palettes and small helpers.
"""
from . import config_check, pretrained, safe_loading
from .checkpoint_schemes import install_checkpoint_schemes
from .config_check import *  # noqa: F401,F403
from .misc import add_prefix, resize
from .pretrained import *  # noqa: F401,F403  (model-zoo names: local files only)
from .safe_loading import *  # noqa: F401,F403  (the weights_only allow-list)
from .setup_env import register_all_modules

__all__ = (['add_prefix', 'resize', 'register_all_modules', 'install_checkpoint_schemes']
           + safe_loading.__all__ + pretrained.__all__ + config_check.__all__)
