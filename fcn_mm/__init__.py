"""fcn_mm: MMSegmentation-style semantic segmentation on current PyTorch.

Importing the package routes mmengine's checkpoint loading (``load_from``, ``--resume``,
``Pretrained`` init) through :func:`fcn_mm.utils.safe_loading.load_checkpoint_file`
(``weights_only=True`` with fcn_mm's allow-list, in force only during that load).
"""
from .version import __version__
from .utils import safe_loading as _safe_loading  # noqa: F401  (checkpoint scheme side effect)

__all__ = ['__version__']
