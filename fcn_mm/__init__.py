"""fcn_mm: MMSegmentation-style semantic segmentation on current PyTorch.

Importing the package (or :mod:`fcn_mm.registry`) has no side effect. Checkpoint loading
through the safe loader is installed by :func:`fcn_mm.utils.register_all_modules` and by
importing :mod:`fcn_mm.models` (see :mod:`fcn_mm.utils.checkpoint_schemes`).
"""
from .version import __version__

__all__ = ['__version__']
