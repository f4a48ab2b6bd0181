"""Utilities: registration, config checking, checkpoint safety, device decisions."""
from .misc import add_prefix, resize
from .setup_env import register_all_modules

__all__ = ['add_prefix', 'resize', 'register_all_modules']
