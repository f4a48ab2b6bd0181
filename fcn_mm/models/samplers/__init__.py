"""Pixel samplers of decode heads (``decode_head.sampler``), registered in ``TASK_UTILS``."""
from .base_pixel_sampler import *  # noqa: F401,F403
from .builder import *  # noqa: F401,F403
from .ohem_pixel_sampler import *  # noqa: F401,F403
