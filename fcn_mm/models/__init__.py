"""Models: backbones, decode heads, losses, segmentors and the data preprocessor.

Importing this package registers every model component in ``fcn_mm.registry.MODELS``.
"""
from .backbones import *  # noqa: F401,F403
from .data_preprocessor import *  # noqa: F401,F403
from .decode_heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
