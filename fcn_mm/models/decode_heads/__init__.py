"""Decode heads."""
from .decode_head import *  # noqa: F401,F403
from .fcn_head import *  # noqa: F401,F403
from .fcn_skip_head import *  # noqa: F401,F403
