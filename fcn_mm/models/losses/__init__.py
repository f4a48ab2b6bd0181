"""Losses and accuracy (MMSegmentation 1.x names; see docs/losses.md)."""
from .accuracy import *  # noqa: F401,F403
from .cross_entropy_loss import *  # noqa: F401,F403
from .dice_loss import *  # noqa: F401,F403
from .focal_loss import *  # noqa: F401,F403
from .lovasz_loss import *  # noqa: F401,F403
from .ohem_cross_entropy_loss import *  # noqa: F401,F403
from .tversky_loss import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
