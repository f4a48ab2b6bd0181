"""High-level APIs: build a model from a config and run it on images."""
from .inference import *  # noqa: F401,F403
