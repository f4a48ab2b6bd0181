"""DiceLoss: one minus the Dice coefficient per image, MMSegmentation 1.2.2's arguments.

For image ``n`` and the flattened probabilities ``p`` and one-hot targets ``t`` of
all its classes and pixels (ignored pixels left out)::

    V-Net (default):   d_n = 2 * sum(p * t) / ((sum(p^2) + eps) + (sum(t^2) + eps))
    naive_dice=True:   d_n = (2 * sum(p * t) + eps) / (sum(p) + sum(t) + eps)
    loss = reduce_n(1 - d_n)  (mean over images by default)

Differences from MMSegmentation 1.2.2, where its behaviour is a bug: pixels whose
label is ``ignore_index`` are left out of every sum (MMSegmentation drops the
*channel* numbered ``ignore_index`` instead, so ignored pixels still count in
``sum(p^2)``), and a single-channel head's target is the foreground (label 1;
MMSegmentation compares it with label 0).
"""
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from fcn_mm.registry import MODELS

from .utils import check_reduction, weight_reduce_loss

__all__ = ['DiceLoss', 'dice_loss']


def one_hot_targets(pred: torch.Tensor, label: torch.Tensor, ignore_index: Optional[int]
                    ) -> torch.Tensor:
    """(N, H, W) labels -> (N, C, H, W) float one-hot targets, zero at ignored pixels.

    A single-channel ``pred`` gets the foreground mask ``label == 1``.
    """
    num_classes = pred.size(1)
    if num_classes == 1:
        return (label == 1).unsqueeze(1).to(pred.dtype)
    target = F.one_hot(label.clamp(0, num_classes), num_classes + 1)[..., :num_classes]
    target = target.movedim(-1, 1).to(pred.dtype)
    if ignore_index is not None:
        target = target * (label != ignore_index).unsqueeze(1).to(pred.dtype)
    return target


def dice_loss(pred: torch.Tensor, target: torch.Tensor,
              weight: Optional[torch.Tensor] = None, eps: float = 1e-3,
              reduction: str = 'mean', naive_dice: bool = False,
              avg_factor: Optional[float] = None) -> torch.Tensor:
    """Dice loss of probabilities against targets, one value per image.

    Args:
        pred (Tensor): probabilities (N, C, H, W), zero where a pixel is left out.
        target (Tensor): targets (N, C, H, W), zero where a pixel is left out.
        weight (Tensor, optional): per-image weights (N,).
        eps (float): smoothing term. Defaults to 1e-3.
        reduction (str): 'none', 'mean' or 'sum' over images.
        naive_dice (bool): first powers in the denominator. Defaults to False.
        avg_factor (float, optional): denominator of 'mean'.

    Returns:
        Tensor: scalar, or (N,) for 'none'.
    """
    p, t = pred.flatten(1), target.flatten(1).float()
    inter = (p * t).sum(1)
    if naive_dice:
        dice = (2 * inter + eps) / (p.sum(1) + t.sum(1) + eps)
    else:
        dice = 2 * inter / ((p * p).sum(1) + eps + (t * t).sum(1) + eps)
    return weight_reduce_loss(1 - dice, weight, reduction, avg_factor)


@MODELS.register_module()
class DiceLoss(nn.Module):
    """Dice loss (registered as ``DiceLoss``); see the module docstring for the formula.

    Args:
        use_sigmoid (bool): sigmoid per channel; False gives a softmax over the
            channels (for C > 1). Defaults to True, as MMSegmentation.
        activate (bool): apply the sigmoid/softmax; False when ``pred`` holds
            probabilities already. Defaults to True.
        reduction (str): 'none', 'mean' or 'sum' over images. Defaults to 'mean'.
        naive_dice (bool): ``sum(p) + sum(t)`` in the denominator instead of the
            squares. Defaults to False.
        loss_weight (float): multiplier. Defaults to 1.0.
        ignore_index (int, optional): label of pixels left out. Defaults to 255.
        eps (float): smoothing term. Defaults to 1e-3.
        loss_name (str): key in the loss dict. Defaults to 'loss_dice'.
    """

    def __init__(self, use_sigmoid: bool = True, activate: bool = True,
                 reduction: str = 'mean', naive_dice: bool = False,
                 loss_weight: float = 1.0, ignore_index: Optional[int] = 255,
                 eps: float = 1e-3, loss_name: str = 'loss_dice'):
        super().__init__()
        check_reduction(reduction)
        self.use_sigmoid = use_sigmoid
        self.activate = activate
        self.reduction = reduction
        self.naive_dice = naive_dice
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index
        self.eps = eps
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """str: the key of this loss in the head's loss dict."""
        return self._loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                ignore_index: Union[int, None] = 255, **kwargs) -> torch.Tensor:
        """Compute ``loss_weight * dice``.

        Args:
            pred (Tensor): logits (N, C, H, W) (probabilities if ``activate=False``).
            target (Tensor): labels (N, H, W), or targets shaped like ``pred``.
            weight (Tensor, optional): per-image weights (N,), or per-pixel weights
                (N, H, W) (a pixel sampler's) that scale each pixel's ``p`` and ``t``.
            avg_factor (float, optional): denominator of 'mean'.
            reduction_override (str, optional): replaces ``reduction`` for this call.
            ignore_index: unused; the module's ``ignore_index`` applies (as
                MMSegmentation).

        Returns:
            Tensor: scalar, or (N,) for 'none'.
        """
        reduction = reduction_override or self.reduction
        check_reduction(reduction, 'reduction_override')
        if self.activate:
            if self.use_sigmoid:
                pred = pred.sigmoid()
            elif pred.size(1) != 1:
                pred = pred.softmax(dim=1)
        if target.shape == pred.shape:
            one_hot = target.to(pred.dtype)
        else:
            one_hot = one_hot_targets(pred, target, self.ignore_index)
            if self.ignore_index is not None:
                pred = pred * (target != self.ignore_index).unsqueeze(1).to(pred.dtype)
        image_weight = weight
        if weight is not None and weight.dim() == 3:  # per-pixel weights
            pixel = weight.unsqueeze(1).to(pred.dtype)
            pred, one_hot, image_weight = pred * pixel, one_hot * pixel, None
        return self.loss_weight * dice_loss(pred, one_hot, image_weight, eps=self.eps,
                                            reduction=reduction,
                                            naive_dice=self.naive_dice,
                                            avg_factor=avg_factor)
