"""Visualizers."""
from .local_visualizer import *  # noqa: F401,F403
from .overlay import *  # noqa: F401,F403
