"""Optim wrappers."""
from .amp_optim_wrapper import *  # noqa: F401,F403
