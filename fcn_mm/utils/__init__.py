"""Utilities: registration, config checking, checkpoint safety, device decisions."""
from . import config_check, pretrained, safe_loading
from .config_check import *  # noqa: F401,F403
from .misc import add_prefix, resize
from .pretrained import *  # noqa: F401,F403  (model-zoo schemes: local files only)
from .safe_loading import *  # noqa: F401,F403  (local checkpoint scheme)
from .setup_env import register_all_modules

__all__ = (['add_prefix', 'resize', 'register_all_modules'] + safe_loading.__all__
           + pretrained.__all__ + config_check.__all__)
