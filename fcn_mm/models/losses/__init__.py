"""Losses and accuracy."""
from .accuracy import *  # noqa: F401,F403
from .cross_entropy_loss import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
