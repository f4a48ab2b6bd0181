"""build_pixel_sampler: build a ``decode_head.sampler`` config from ``TASK_UTILS``."""
from typing import Any

from fcn_mm.registry import TASK_UTILS

__all__ = ['build_pixel_sampler']


def build_pixel_sampler(cfg: dict, **default_args: Any) -> Any:
    """Build a pixel sampler, e.g. ``dict(type='OHEMPixelSampler', thresh=0.7)``.

    Args:
        cfg (dict): the sampler config.
        **default_args: extra arguments, e.g. ``context`` (the decode head).

    Returns:
        BasePixelSampler: the sampler.
    """
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f"decode_head.sampler must be a dict with a 'type', got {cfg!r}")
    return TASK_UTILS.build(cfg, default_args=default_args)
