"""fcn_mm: MMSegmentation-style semantic segmentation on current PyTorch.

Importing the package registers the checkpoint-loading allow-list (see
:mod:`fcn_mm.utils.safe_loading`) so that every entry point, DataLoader worker and
torchrun rank loads checkpoints with ``weights_only=True``.
"""
from .version import __version__
from .utils import safe_loading as _safe_loading  # noqa: F401  (allow-list side effect)

__all__ = ['__version__']
