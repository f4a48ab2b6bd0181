"""Runner helpers: distributed setup, loops, samplers, checkpoint I/O."""
from .distributed import *  # noqa: F401,F403
from .test_hooks import *  # noqa: F401,F403
from .test_setup import *  # noqa: F401,F403
from .train_setup import *  # noqa: F401,F403
