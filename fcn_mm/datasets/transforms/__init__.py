"""Data transforms, each registered in fcn_mm's TRANSFORMS."""
from .formatting import *  # noqa: F401,F403
from .geometric import *  # noqa: F401,F403
from .label_mapping import *  # noqa: F401,F403
from .loading import *  # noqa: F401,F403
from .photometric import *  # noqa: F401,F403
from .tta import *  # noqa: F401,F403
