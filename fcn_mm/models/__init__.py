"""Models: backbones, decode heads, losses, pixel samplers, segmentors and the data preprocessor.

Importing this package registers every model component in ``fcn_mm.registry.MODELS`` and
installs the safe checkpoint loading (:mod:`fcn_mm.utils.checkpoint_schemes`): every
checkpoint is loaded into a built model. :mod:`.builder` is the offline model build.
"""
from fcn_mm.utils.checkpoint_schemes import install_checkpoint_schemes
from .backbones import *  # noqa: F401,F403
from .data_preprocessor import *  # noqa: F401,F403
from .decode_heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .samplers import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403

install_checkpoint_schemes()
