"""Hooks."""
from .checkpoint_hook import *  # noqa: F401,F403
from .rng_state import *  # noqa: F401,F403
from .visualization_hook import *  # noqa: F401,F403
