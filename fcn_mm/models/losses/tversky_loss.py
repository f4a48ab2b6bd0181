"""TverskyLoss: a Dice generalisation that weighs false positives and negatives (Salehi et al., 2017).

Per class ``c`` and image ``n``, with ``p = softmax(x)_c``, ``t = [y = c]`` and sums
over the non-ignored pixels::

    TP = sum(p t), FP = sum(p (1 - t)), FN = sum((1 - p) t)
    T_nc = (TP + smooth) / (TP + alpha FP + beta FN + smooth)
    loss = (1 / C) * sum_c class_weight[c] * mean_n (1 - T_nc)

``alpha = beta = 0.5`` is the Dice loss; ``beta > alpha`` penalises missed foreground
more (recall). As MMSegmentation 1.2.2, ``alpha + beta`` must be 1.
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from fcn_mm.registry import MODELS

from .utils import get_class_weight

__all__ = ['TverskyLoss', 'tversky_loss']


def tversky_loss(probs: torch.Tensor, one_hot: torch.Tensor, valid: torch.Tensor,
                 alpha: float = 0.3, beta: float = 0.7, smooth: float = 1.0,
                 class_weight: Optional[torch.Tensor] = None,
                 ignore_index: Optional[int] = 255) -> torch.Tensor:
    """Tversky loss averaged over images and classes.

    Args:
        probs (Tensor): (N, C, H, W) probabilities.
        one_hot (Tensor): (N, C, H, W) targets.
        valid (Tensor): (N, H, W) pixel weights (0 for ignored pixels).
        alpha (float): weight of false positives.
        beta (float): weight of false negatives.
        smooth (float): smoothing term.
        class_weight (Tensor, optional): (C,).
        ignore_index (int, optional): a class with this index is skipped (as
            MMSegmentation; pixels with this label are out through ``valid``).

    Returns:
        Tensor: scalar.
    """
    num_classes = probs.size(1)
    p = probs.flatten(2)                                   # (N, C, P)
    t = one_hot.flatten(2).to(p.dtype)
    v = valid.flatten(1).unsqueeze(1).to(p.dtype)          # (N, 1, P)
    tp = (p * t * v).sum(2)
    fp = (p * (1 - t) * v).sum(2)
    fn = ((1 - p) * t * v).sum(2)
    per_class = (1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)).mean(0)  # (C,)
    if class_weight is not None:
        per_class = per_class * class_weight
    keep = [c for c in range(num_classes) if c != ignore_index]
    return per_class[keep].sum() / num_classes


@MODELS.register_module()
class TverskyLoss(nn.Module):
    """Tversky loss (registered as ``TverskyLoss``); see the module docstring.

    Args:
        smooth (float): smoothing term. Defaults to 1.
        class_weight (list[float] | str, optional): per-class weights or a file.
        loss_weight (float): multiplier. Defaults to 1.0.
        ignore_index (int, optional): label of pixels left out. Defaults to 255.
        alpha (float): weight of false positives. Defaults to 0.3.
        beta (float): weight of false negatives; ``alpha + beta`` must be 1.
            Defaults to 0.7.
        loss_name (str): key in the loss dict. Defaults to 'loss_tversky'.
    """

    def __init__(self, smooth: float = 1, class_weight: Union[None, str, Sequence[float]] = None,
                 loss_weight: float = 1.0, ignore_index: Optional[int] = 255,
                 alpha: float = 0.3, beta: float = 0.7, loss_name: str = 'loss_tversky'):
        super().__init__()
        if abs(alpha + beta - 1.0) > 1e-6:
            raise ValueError(f'TverskyLoss: alpha + beta must be 1, got alpha={alpha} and '
                             f'beta={beta}')
        self.smooth = smooth
        self.class_weight: Optional[List[float]] = get_class_weight(
            class_weight, 'TverskyLoss.class_weight')
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index
        self.alpha, self.beta = alpha, beta
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """str: the key of this loss in the head's loss dict."""
        return self._loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                weight: Optional[torch.Tensor] = None, **kwargs) -> torch.Tensor:
        """Compute ``loss_weight * tversky``.

        Args:
            pred (Tensor): logits (N, C, H, W).
            target (Tensor): labels (N, H, W).
            weight (Tensor, optional): pixel weights (N, H, W) (a pixel sampler's).
            kwargs: ``ignore_index`` and the like are not used; the module's
                ``ignore_index`` applies (as MMSegmentation).

        Returns:
            Tensor: scalar.
        """
        num_classes = pred.size(1)
        probs = F.softmax(pred, dim=1)
        one_hot = F.one_hot(target.long().clamp(0, num_classes - 1), num_classes).movedim(-1, 1)
        valid = (target != self.ignore_index).to(probs.dtype)
        if weight is not None:
            valid = valid * weight.to(probs.dtype)
        class_weight = (None if self.class_weight is None
                        else probs.new_tensor(self.class_weight))
        return self.loss_weight * tversky_loss(probs, one_hot, valid, self.alpha, self.beta,
                                               self.smooth, class_weight, self.ignore_index)
