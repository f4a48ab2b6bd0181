"""Segmentors."""
from .base import *  # noqa: F401,F403
from .encoder_decoder import *  # noqa: F401,F403
from .seg_tta import *  # noqa: F401,F403
