"""Engine (floor 4): mmengine extension points only.

Hooks, loops, samplers, optim wrappers and the ``local_atomic`` file backend. Importing
this package registers them in fcn_mm's registries (and the backend in mmengine's).
"""
from .file_backend import *  # noqa: F401,F403
from .hooks import *  # noqa: F401,F403
from .loops import *  # noqa: F401,F403
from .optim_wrappers import *  # noqa: F401,F403
from .samplers import *  # noqa: F401,F403
