"""Loss helpers: class weights from a list or a file, and weighted reduction."""
import json
import os
from typing import List, Optional, Sequence, Union

import numpy as np
import torch

__all__ = ['get_class_weight', 'reduce_loss', 'weight_reduce_loss', 'check_reduction']

_EPS = torch.finfo(torch.float32).eps


def get_class_weight(class_weight: Union[None, str, Sequence[float], np.ndarray],
                     key: str = 'loss_decode.class_weight') -> Optional[List[float]]:
    """Per-class weights as a list of floats.

    Args:
        class_weight (str | Sequence[float] | None): the weights, or a path to a
            ``.npy`` file or a ``.json`` file holding a list.
        key (str): config key for error messages.

    Returns:
        list[float] | None: one weight per class.
    """
    if class_weight is None:
        return None
    if isinstance(class_weight, (str, os.PathLike)):
        path = os.fspath(class_weight)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'{key}: class weight file {path!r} does not exist')
        if path.endswith('.npy'):
            values = np.load(path, allow_pickle=False)
        elif path.endswith('.json'):
            with open(path, encoding='utf-8') as f:
                values = json.load(f)
        else:
            raise ValueError(f'{key}: class weight file {path!r} must end in .npy or .json')
    else:
        values = class_weight
    try:
        weights = [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]
    except (TypeError, ValueError) as e:
        raise TypeError(f'{key} must be a list of numbers or a .npy/.json path, '
                        f'got {class_weight!r}') from e
    if not weights:
        raise ValueError(f'{key} is empty: give one weight per class')
    return weights


def reduce_loss(loss: torch.Tensor, reduction: str = 'mean',
                avg_factor: Optional[Union[float, torch.Tensor]] = None) -> torch.Tensor:
    """Reduce element-wise losses.

    Args:
        loss (Tensor): element-wise losses, any shape.
        reduction (str): 'none', 'mean' or 'sum'.
        avg_factor (float | Tensor, optional): with 'mean', divide the sum by this
            instead of by ``loss.numel()``.

    Returns:
        Tensor: a scalar, or ``loss`` itself for 'none'.
    """
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    if reduction != 'mean':
        raise ValueError(f"loss reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    if avg_factor is None:
        return loss.mean()
    return loss.sum() / (avg_factor + _EPS)


def check_reduction(reduction: Optional[str], key: str = 'loss_decode.reduction') -> None:
    """Raise a ValueError naming ``key`` unless ``reduction`` is 'none', 'mean' or 'sum'."""
    if reduction not in ('none', 'mean', 'sum'):
        raise ValueError(f"{key} must be 'none', 'mean' or 'sum', got {reduction!r}")


def weight_reduce_loss(loss: torch.Tensor, weight: Optional[torch.Tensor] = None,
                       reduction: str = 'mean',
                       avg_factor: Optional[Union[float, torch.Tensor]] = None
                       ) -> torch.Tensor:
    """Multiply element-wise losses by ``weight`` (broadcast), then reduce.

    Args:
        loss (Tensor): element-wise losses, any shape.
        weight (Tensor, optional): weights broadcastable to ``loss``.
        reduction (str): 'none', 'mean' or 'sum'.
        avg_factor (float | Tensor, optional): denominator of 'mean'; not allowed
            with 'sum'.

    Returns:
        Tensor: a scalar, or the weighted ``loss`` for 'none'.
    """
    if weight is not None:
        loss = loss * weight
    if avg_factor is not None and reduction == 'sum':
        raise ValueError("avg_factor cannot be used with reduction='sum'")
    return reduce_loss(loss, reduction, avg_factor)
