"""Small helpers: key prefixes, a checked resize and tensors to numpy."""
import warnings
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F


def to_numpy(x: Any) -> np.ndarray:
    """A tensor (detached, on the CPU) or any array-like as an ``np.ndarray``."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def add_prefix(inputs: Dict, prefix: str) -> Dict:
    """Return a copy of ``inputs`` whose keys are ``'<prefix>.<key>'``.

    Args:
        inputs (dict): e.g. ``{'loss_ce': t}``.
        prefix (str): e.g. ``'decode'``.

    Returns:
        dict: e.g. ``{'decode.loss_ce': t}``.
    """
    return {f'{prefix}.{name}': value for name, value in inputs.items()}


def resize(input: torch.Tensor,
           size: Optional[Union[Tuple[int, int], torch.Size]] = None,
           scale_factor: Optional[float] = None,
           mode: str = 'nearest',
           align_corners: Optional[bool] = None,
           warning: bool = True) -> torch.Tensor:
    """``F.interpolate`` that warns when ``align_corners=True`` would misalign.

    With ``align_corners=True`` the output grid lines up with the input only when
    ``(out - 1)`` is a multiple of ``(in - 1)``; otherwise a warning is issued.

    Args:
        input (Tensor): (N, C, H, W).
        size (tuple[int, int], optional): output (H', W').
        scale_factor (float, optional): used when ``size`` is None.
        mode (str): interpolation mode.
        align_corners (bool, optional): passed to ``F.interpolate``.
        warning (bool): whether to check alignment.

    Returns:
        Tensor: (N, C, H', W').
    """
    if warning and size is not None and align_corners:
        in_h, in_w = input.shape[2:]
        out_h, out_w = (int(s) for s in size)
        if out_h > in_h or out_w > in_w:
            if ((out_h > 1 and out_w > 1 and in_h > 1 and in_w > 1)
                    and ((out_h - 1) % (in_h - 1) or (out_w - 1) % (in_w - 1))):
                warnings.warn(
                    f'align_corners=True resize from {(in_h, in_w)} to {(out_h, out_w)} '
                    'is misaligned: use sizes with (out - 1) a multiple of (in - 1)')
    if size is not None:
        size = tuple(int(s) for s in size)
    return F.interpolate(input, size, scale_factor, mode, align_corners)
