"""FocalLoss: cross entropy down-weighted on easy pixels (Lin et al., 2017), in plain PyTorch.

Sigmoid form (``use_sigmoid=True``, MMSegmentation's only form), for each pixel and
class with ``p = sigmoid(x)`` and the one-hot target ``t`` (``label == 1`` for a
single-channel head)::

    loss = (alpha * t + (1 - alpha) * (1 - t)) * |t - p|^gamma * BCE(x, t)

times ``class_weight[c]`` and the pixel weight, 0 at ignored pixels, averaged over
all N * H * W * C elements (ignored ones included, as MMSegmentation's mmcv op path).
Softmax form (``use_sigmoid=False``, an fcn_mm addition)::

    loss = alpha_y * (1 - p_y)^gamma * (-log p_y)     with p = softmax(x), y the label

times ``class_weight[y]``, averaged over all N * H * W pixels. ``alpha`` is a float
or one value per class in both forms.
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from fcn_mm.registry import MODELS

from .utils import check_reduction, weight_reduce_loss

__all__ = ['FocalLoss', 'sigmoid_focal_loss', 'softmax_focal_loss']


def sigmoid_focal_loss(pred: torch.Tensor, target: torch.Tensor,
                       weight: Optional[torch.Tensor] = None, gamma: float = 2.0,
                       alpha: Union[float, torch.Tensor] = 0.5,
                       class_weight: Optional[torch.Tensor] = None,
                       reduction: str = 'mean',
                       avg_factor: Optional[float] = None) -> torch.Tensor:
    """Element-wise sigmoid focal loss, weighted and reduced.

    Args:
        pred (Tensor): logits (M, C).
        target (Tensor): targets in [0, 1], (M, C).
        weight (Tensor, optional): (M, 1) or (M, C) weights (0 for ignored pixels).
        gamma (float): focusing exponent.
        alpha (float | Tensor): weight of positives (a (C,) tensor per class).
        class_weight (Tensor, optional): (C,).
        reduction (str): 'none', 'mean' or 'sum'.
        avg_factor (float, optional): denominator of 'mean'.

    Returns:
        Tensor: scalar, or (M, C) for 'none'.
    """
    target = target.to(pred.dtype)
    prob = pred.sigmoid()
    one_minus_pt = (1 - prob) * target + prob * (1 - target)
    balance = alpha * target + (1 - alpha) * (1 - target)
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction='none')
    loss = loss * balance * one_minus_pt.pow(gamma)
    final_weight = pred.new_ones(1, pred.size(1))
    if weight is not None:
        final_weight = final_weight * weight
    if class_weight is not None:
        final_weight = final_weight * class_weight.view(1, -1)
    return weight_reduce_loss(loss, final_weight, reduction, avg_factor)


def softmax_focal_loss(pred: torch.Tensor, label: torch.Tensor,
                       weight: Optional[torch.Tensor] = None, gamma: float = 2.0,
                       alpha: Union[float, torch.Tensor] = 0.5,
                       class_weight: Optional[torch.Tensor] = None,
                       reduction: str = 'mean', avg_factor: Optional[float] = None,
                       ignore_index: int = 255) -> torch.Tensor:
    """Pixel-wise softmax focal loss, weighted and reduced.

    Args:
        pred (Tensor): logits (M, C).
        label (Tensor): labels (M,).
        weight (Tensor, optional): (M,) pixel weights.
        gamma (float): focusing exponent.
        alpha (float | Tensor): constant, or a (C,) tensor indexed by the label.
        class_weight (Tensor, optional): (C,).
        reduction (str): 'none', 'mean' or 'sum'.
        avg_factor (float, optional): denominator of 'mean'.
        ignore_index (int): label left out (loss 0).

    Returns:
        Tensor: scalar, or (M,) for 'none'.
    """
    valid = label != ignore_index
    safe = label.masked_fill(~valid, 0)
    log_p = F.log_softmax(pred, dim=1).gather(1, safe[:, None]).squeeze(1)
    loss = -(1 - log_p.exp()).pow(gamma) * log_p
    loss = loss * (alpha[safe] if torch.is_tensor(alpha) else alpha)
    if class_weight is not None:
        loss = loss * class_weight[safe]
    loss = loss * valid.to(loss.dtype)
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


@MODELS.register_module()
class FocalLoss(nn.Module):
    """Focal loss (registered as ``FocalLoss``); see the module docstring.

    Args:
        use_sigmoid (bool): sigmoid form (MMSegmentation's); False gives the softmax
            form. Defaults to True.
        gamma (float): focusing exponent. Defaults to 2.0.
        alpha (float | list[float]): weight of positives (sigmoid) or constant
            factor (softmax); a list gives one per class. Defaults to 0.5.
        reduction (str): 'none', 'mean' or 'sum'. Defaults to 'mean'.
        class_weight (list[float], optional): per-class weights.
        loss_weight (float): multiplier. Defaults to 1.0.
        loss_name (str): key in the loss dict. Defaults to 'loss_focal'.
    """

    def __init__(self, use_sigmoid: bool = True, gamma: float = 2.0,
                 alpha: Union[float, Sequence[float]] = 0.5, reduction: str = 'mean',
                 class_weight: Optional[Sequence[float]] = None,
                 loss_weight: float = 1.0, loss_name: str = 'loss_focal'):
        super().__init__()
        check_reduction(reduction)
        if not isinstance(alpha, (int, float, list, tuple)):
            raise TypeError(f'FocalLoss.alpha must be a float or a list of floats, got {alpha!r}')
        if class_weight is not None and not isinstance(class_weight, (list, tuple)):
            raise TypeError('FocalLoss.class_weight must be None or a list of floats, '
                            f'got {class_weight!r}')
        self.use_sigmoid = use_sigmoid
        self.gamma = float(gamma)
        self.alpha = list(alpha) if isinstance(alpha, (list, tuple)) else float(alpha)
        self.reduction = reduction
        self.class_weight: Optional[List[float]] = (
            None if class_weight is None else [float(w) for w in class_weight])
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """str: the key of this loss in the head's loss dict."""
        return self._loss_name

    def _per_class(self, values, pred: torch.Tensor, key: str) -> torch.Tensor:
        tensor = pred.new_tensor(values)
        if tensor.numel() != pred.size(1):
            raise ValueError(f'FocalLoss.{key} has {tensor.numel()} entries but the head '
                             f'predicts {pred.size(1)} channels')
        return tensor

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                weight: Optional[torch.Tensor] = None, avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None, ignore_index: int = 255,
                **kwargs) -> torch.Tensor:
        """Compute ``loss_weight * focal``.

        Args:
            pred (Tensor): logits (N, C, H, W).
            target (Tensor): labels (N, H, W), or sigmoid targets shaped like ``pred``.
            weight (Tensor, optional): pixel weights (N, H, W).
            avg_factor (float, optional): denominator of 'mean'.
            reduction_override (str, optional): replaces ``reduction`` for this call.
            ignore_index (int): label left out. Defaults to 255.

        Returns:
            Tensor: scalar, or (N, C, H, W) ('none', sigmoid) / (N, H, W) ('none', softmax).
        """
        reduction = reduction_override or self.reduction
        check_reduction(reduction, 'reduction_override')
        shape = pred.shape
        flat = pred.movedim(1, -1).reshape(-1, shape[1])                    # (M, C)
        alpha = (self._per_class(self.alpha, pred, 'alpha')
                 if isinstance(self.alpha, list) else self.alpha)
        class_weight = (None if self.class_weight is None else
                        self._per_class(self.class_weight, pred, 'class_weight'))
        pixel_weight = None if weight is None else weight.reshape(-1).to(pred.dtype)
        if not self.use_sigmoid:
            if target.shape == shape:
                raise ValueError('FocalLoss(use_sigmoid=False) takes labels (N, H, W), '
                                 f'got targets shaped like the logits {tuple(shape)}')
            loss = softmax_focal_loss(flat, target.reshape(-1).long(), pixel_weight,
                                      self.gamma, alpha, class_weight, reduction,
                                      avg_factor, ignore_index)
            return self.loss_weight * (loss.view(shape[0], *shape[2:])
                                       if reduction == 'none' else loss)
        if target.shape == shape:                                  # soft / one-hot targets
            one_hot = target.movedim(1, -1).reshape(-1, shape[1])
            valid = pred.new_ones(flat.size(0), 1)
        else:
            label = target.reshape(-1).long()
            valid = (label != ignore_index).to(pred.dtype)[:, None]
            label = label.masked_fill(label == ignore_index, 0)
            if shape[1] == 1:
                one_hot = (label == 1)[:, None]
            else:
                one_hot = F.one_hot(label.clamp(0, shape[1]), shape[1] + 1)[:, :shape[1]]
        elem_weight = valid if pixel_weight is None else valid * pixel_weight[:, None]
        loss = sigmoid_focal_loss(flat, one_hot, elem_weight, self.gamma, alpha,
                                  class_weight, reduction, avg_factor)
        if reduction == 'none':
            loss = loss.reshape(shape[0], *shape[2:], shape[1]).movedim(-1, 1)
        return self.loss_weight * loss
