"""LovaszLoss: a convex surrogate of 1 - IoU (Berman et al., 2018), MMSegmentation 1.2.2's arguments.

For a set of pixels, sort the errors ``e_i`` in decreasing order and weight them by the
increments ``g_i`` of the Jaccard loss of the sorted ground truth::

    loss = sum_i e_(i) * g_i,  g_i = J(gt_(1..i)) - J(gt_(1..i-1)),  J = 1 - |gt ∩ pred| / |gt ∪ pred|

* ``loss_type='multi_class'`` (Lovasz-Softmax): ``e_i = |[y_i = c] - softmax(x)_c,i|``
  per class ``c``, averaged over the classes (``'present'`` ones by default), each
  times ``class_weight[c]``.
* ``loss_type='binary'`` (Lovasz hinge): ``e_i = relu(1 - x_i * (2 y_i - 1))`` on the
  logits of a single-channel head.

Ignored pixels (and pixels a pixel sampler weights 0) are left out. ``per_image=True``
computes one loss per image and reduces them; ``per_image=False`` treats the batch as
one set of pixels and needs ``reduction='none'`` (as MMSegmentation).
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from fcn_mm.registry import MODELS

from .utils import check_reduction, get_class_weight, weight_reduce_loss

__all__ = ['LovaszLoss', 'lovasz_grad', 'lovasz_hinge', 'lovasz_softmax']

Classes = Union[str, Sequence[int]]


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovasz extension of the Jaccard loss w.r.t. sorted errors.

    Args:
        gt_sorted (Tensor): (P,) ground truth in {0, 1}, sorted by decreasing error.

    Returns:
        Tensor: (P,) float.
    """
    gt = gt_sorted.float()
    total = gt.sum()
    intersection = total - gt.cumsum(0)
    union = total + (1 - gt).cumsum(0)
    jaccard = 1.0 - intersection / union
    if gt.numel() > 1:
        jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
    return jaccard


def _lovasz_hinge_flat(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(P,) logits and (P,) labels in {0, 1} -> scalar."""
    if labels.numel() == 0:
        return logits.sum() * 0.0
    errors = 1.0 - logits * (2.0 * labels.float() - 1.0)
    errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
    return torch.dot(F.relu(errors_sorted), lovasz_grad(labels[perm]))


def _lovasz_softmax_flat(probs: torch.Tensor, labels: torch.Tensor, classes: Classes,
                         class_weight: Optional[torch.Tensor]) -> torch.Tensor:
    """(P, C) probabilities and (P,) labels -> scalar."""
    if probs.numel() == 0:
        return probs.sum() * 0.0
    num_classes = probs.size(1)
    selected = range(num_classes) if classes in ('all', 'present') else classes
    losses = []
    for c in selected:
        fg = (labels == c).float()
        if classes == 'present' and fg.sum() == 0:
            continue
        class_pred = probs[:, 0] if num_classes == 1 else probs[:, c]
        errors_sorted, perm = torch.sort((fg - class_pred).abs(), 0, descending=True)
        loss = torch.dot(errors_sorted, lovasz_grad(fg[perm]))
        losses.append(loss * class_weight[c] if class_weight is not None else loss)
    if not losses:
        return probs.sum() * 0.0
    return torch.stack(losses).mean()


def _valid(labels: torch.Tensor, ignore_index: Optional[int]) -> torch.Tensor:
    return (torch.ones_like(labels, dtype=torch.bool) if ignore_index is None
            else labels != ignore_index)


def lovasz_hinge(logits: torch.Tensor, labels: torch.Tensor, per_image: bool = False,
                 reduction: str = 'mean', avg_factor: Optional[float] = None,
                 ignore_index: Optional[int] = 255) -> torch.Tensor:
    """Binary Lovasz hinge.

    Args:
        logits (Tensor): (N, 1, H, W) or (N, H, W).
        labels (Tensor): (N, H, W) in {0, 1, ignore_index}.
        per_image (bool): one loss per image, then ``reduction``.
        reduction (str): reduction over images (``per_image`` only).
        avg_factor (float, optional): denominator of 'mean' (``per_image`` only).
        ignore_index (int, optional): label left out.

    Returns:
        Tensor: scalar, or (N,) with ``per_image`` and 'none'.
    """
    logits = logits.reshape(labels.shape)
    if per_image:
        losses = [_lovasz_hinge_flat(x[m], y[m]) for x, y, m in
                  zip(logits, labels, _valid(labels, ignore_index))]
        return weight_reduce_loss(torch.stack(losses), None, reduction, avg_factor)
    valid = _valid(labels, ignore_index)
    return _lovasz_hinge_flat(logits[valid], labels[valid])


def lovasz_softmax(probs: torch.Tensor, labels: torch.Tensor, classes: Classes = 'present',
                   per_image: bool = False, class_weight: Optional[torch.Tensor] = None,
                   reduction: str = 'mean', avg_factor: Optional[float] = None,
                   ignore_index: Optional[int] = 255) -> torch.Tensor:
    """Multi-class Lovasz-Softmax.

    Args:
        probs (Tensor): probabilities (N, C, H, W).
        labels (Tensor): (N, H, W).
        classes (str | Sequence[int]): 'all', 'present' or a list of class ids.
        per_image (bool): one loss per image, then ``reduction``.
        class_weight (Tensor, optional): (C,).
        reduction (str): reduction over images (``per_image`` only).
        avg_factor (float, optional): denominator of 'mean' (``per_image`` only).
        ignore_index (int, optional): label left out.

    Returns:
        Tensor: scalar, or (N,) with ``per_image`` and 'none'.
    """
    flat = probs.movedim(1, -1)                                     # (N, H, W, C)
    valid = _valid(labels, ignore_index)
    if per_image:
        losses = [_lovasz_softmax_flat(p[m], y[m], classes, class_weight)
                  for p, y, m in zip(flat, labels, valid)]
        return weight_reduce_loss(torch.stack(losses), None, reduction, avg_factor)
    return _lovasz_softmax_flat(flat[valid], labels[valid], classes, class_weight)


@MODELS.register_module()
class LovaszLoss(nn.Module):
    """Lovasz loss (registered as ``LovaszLoss``); see the module docstring.

    Args:
        loss_type (str): 'multi_class' (softmax) or 'binary' (hinge). Defaults to
            'multi_class'.
        classes (str | list[int]): classes averaged: 'all', 'present' (in the labels)
            or a list of ids. Defaults to 'present'.
        per_image (bool): one loss per image. Defaults to False.
        reduction (str): over images; must be 'none' when ``per_image=False``.
            Defaults to 'mean'.
        class_weight (list[float] | str, optional): per-class weights or a file.
        loss_weight (float): multiplier. Defaults to 1.0.
        loss_name (str): key in the loss dict. Defaults to 'loss_lovasz'.
    """

    def __init__(self, loss_type: str = 'multi_class', classes: Classes = 'present',
                 per_image: bool = False, reduction: str = 'mean',
                 class_weight: Union[None, str, Sequence[float]] = None,
                 loss_weight: float = 1.0, loss_name: str = 'loss_lovasz'):
        super().__init__()
        if loss_type not in ('binary', 'multi_class'):
            raise ValueError("LovaszLoss.loss_type must be 'binary' or 'multi_class', "
                             f'got {loss_type!r}')
        if not (classes in ('all', 'present') or (
                isinstance(classes, (list, tuple)) and all(isinstance(c, int) for c in classes))):
            raise ValueError("LovaszLoss.classes must be 'all', 'present' or a list of ints, "
                             f'got {classes!r}')
        check_reduction(reduction)
        if not per_image and reduction != 'none':
            raise ValueError("LovaszLoss: reduction must be 'none' when per_image=False (the "
                             f"batch is one set of pixels), got reduction={reduction!r}")
        self.loss_type = loss_type
        self.classes = classes if isinstance(classes, str) else list(classes)
        self.per_image = per_image
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.class_weight: Optional[List[float]] = get_class_weight(
            class_weight, 'LovaszLoss.class_weight')
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """str: the key of this loss in the head's loss dict."""
        return self._loss_name

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor,
                weight: Optional[torch.Tensor] = None, avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None, ignore_index: Optional[int] = 255,
                **kwargs) -> torch.Tensor:
        """Compute ``loss_weight * lovasz``.

        Args:
            cls_score (Tensor): logits (N, C, H, W) (C = 1 for 'binary').
            label (Tensor): labels (N, H, W).
            weight (Tensor, optional): pixel weights (N, H, W); pixels weighted 0 are
                left out (a pixel sampler's mask).
            avg_factor (float, optional): denominator of 'mean' (``per_image``).
            reduction_override (str, optional): replaces ``reduction`` for this call.
            ignore_index (int, optional): label left out. Defaults to 255.

        Returns:
            Tensor: scalar, or (N,) with ``per_image`` and 'none'.
        """
        reduction = reduction_override or self.reduction
        check_reduction(reduction, 'reduction_override')
        if weight is not None and weight.shape == label.shape:
            fill = -1 if ignore_index is None else ignore_index
            label = label.masked_fill(weight == 0, fill)
            ignore_index = fill
        if self.loss_type == 'binary':
            loss = lovasz_hinge(cls_score, label, self.per_image, reduction, avg_factor,
                                ignore_index)
        else:
            class_weight = (None if self.class_weight is None
                            else cls_score.new_tensor(self.class_weight))
            loss = lovasz_softmax(F.softmax(cls_score, dim=1), label, self.classes,
                                  self.per_image, class_weight, reduction, avg_factor,
                                  ignore_index)
        return self.loss_weight * loss
