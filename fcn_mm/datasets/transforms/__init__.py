"""Data transforms, each registered in fcn_mm's TRANSFORMS."""
from .formatting import *  # noqa: F401,F403
from .geometric import *  # noqa: F401,F403
from .loading import *  # noqa: F401,F403
from .photometric import *  # noqa: F401,F403
from .test_time_aug import *  # noqa: F401,F403
