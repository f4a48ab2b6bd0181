"""Runner helpers: distributed setup, loops, samplers, checkpoint I/O."""
from .checkpoint_io import *  # noqa: F401,F403
from .distributed import *  # noqa: F401,F403
from .loops import *  # noqa: F401,F403
from .samplers import *  # noqa: F401,F403
from .speed_setup import *  # noqa: F401,F403
from .test_hooks import *  # noqa: F401,F403
from .test_setup import *  # noqa: F401,F403
from .train_setup import *  # noqa: F401,F403
from .work_dir import *  # noqa: F401,F403
