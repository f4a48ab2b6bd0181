"""Engine: hooks, optim wrappers, loops, samplers and runner helpers.

Importing this package registers them in fcn_mm's registries.
"""
from .hooks import *  # noqa: F401,F403
from .optim_wrappers import *  # noqa: F401,F403
from .runner import *  # noqa: F401,F403
