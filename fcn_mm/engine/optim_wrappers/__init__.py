"""Optim wrappers."""
from .optim_wrapper import *  # noqa: F401,F403
from .amp_optim_wrapper import *  # noqa: F401,F403
