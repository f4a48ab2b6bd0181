"""CrossEntropyLoss (softmax, sigmoid for binary heads, or mask CE) with MMSegmentation's averaging.

Averaging rule of the softmax loss for ``reduction='mean'`` (per-pixel loss
``l_i = w[y_i] * CE_i``, 0 for ignored pixels), as MMSegmentation 1.2.2:

* no ``class_weight``: ``sum(l_i) / #all pixels`` (``avg_non_ignore=False``, the
  default; ignored pixels count in the denominator) or ``sum(l_i) / #non-ignored
  pixels`` (``avg_non_ignore=True``, what ``F.cross_entropy`` does).
* with ``class_weight``: ``sum(l_i) / sum(w[y_i])``, the sum over the non-ignored
  pixels with ``avg_non_ignore=True`` (exactly ``F.cross_entropy(..., weight=w)``),
  over all pixels with ``avg_non_ignore=False``. MMSegmentation 1.2.2 raises an
  IndexError in that last case when a pixel is ignored (it looks up ``w[255]``);
  fcn_mm counts each ignored pixel with weight 1 there.

Leaving ``avg_non_ignore`` out of a config gives the default rule with a one-time
warning that says so; setting ``avg_non_ignore=False`` explicitly gives it silently.
"""
import warnings
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from fcn_mm.registry import MODELS

from .utils import check_reduction, get_class_weight, reduce_loss

__all__ = ['CrossEntropyLoss', 'cross_entropy', 'binary_cross_entropy', 'mask_cross_entropy']

_WARNED_AVG_NON_IGNORE = False


def _warn_avg_non_ignore_once() -> None:
    global _WARNED_AVG_NON_IGNORE
    if not _WARNED_AVG_NON_IGNORE:
        _WARNED_AVG_NON_IGNORE = True
        warnings.warn('CrossEntropyLoss: avg_non_ignore=False (the MMSegmentation default) '
                      'averages over all pixels, ignored ones included; set '
                      'avg_non_ignore=True to average over non-ignored pixels as '
                      'torch.nn.functional.cross_entropy does, or avg_non_ignore=False '
                      'in loss_decode to keep this rule without this warning.')


def cross_entropy(pred: torch.Tensor, label: torch.Tensor,
                  weight: Optional[torch.Tensor] = None,
                  class_weight: Optional[torch.Tensor] = None, reduction: str = 'mean',
                  avg_factor: Optional[float] = None, ignore_index: int = -100,
                  avg_non_ignore: bool = False) -> torch.Tensor:
    """Softmax cross entropy with the averaging rule of the module docstring.

    Args:
        pred (Tensor): logits (N, C, H, W).
        label (Tensor): labels (N, H, W), int64.
        weight (Tensor, optional): per-pixel weights (N, H, W).
        class_weight (Tensor, optional): (C,) per-class weights.
        reduction (str): 'none', 'mean' or 'sum'.
        avg_factor (float, optional): explicit denominator for 'mean'.
        ignore_index (int): label left out of the loss.
        avg_non_ignore (bool): see the module docstring.

    Returns:
        Tensor: scalar, or (N, H, W) for 'none'.
    """
    loss = F.cross_entropy(pred, label, weight=class_weight, reduction='none',
                           ignore_index=ignore_index)
    if avg_factor is None and reduction == 'mean':
        valid = label != ignore_index
        if class_weight is None:
            avg_factor = float(valid.sum() if avg_non_ignore else label.numel())
        else:
            label_weights = class_weight[label.clamp(0, pred.size(1) - 1)]
            fill = 0.0 if avg_non_ignore else 1.0  # see the module docstring
            avg_factor = label_weights.masked_fill(~valid, fill).sum()
    if weight is not None:
        loss = loss * weight.float()
    return reduce_loss(loss, reduction, avg_factor)


def binary_cross_entropy(pred: torch.Tensor, label: torch.Tensor,
                         weight: Optional[torch.Tensor] = None,
                         class_weight: Optional[torch.Tensor] = None,
                         reduction: str = 'mean', avg_factor: Optional[float] = None,
                         ignore_index: int = -100,
                         avg_non_ignore: bool = False) -> torch.Tensor:
    """Sigmoid BCE; labels are one-hot expanded when ``pred`` has C > 1 channels.

    Args:
        pred (Tensor): logits (N, 1, H, W) for a binary head, or (N, C, H, W).
        label (Tensor): labels (N, H, W); (N, 1, H, W) targets in {0, 1} are
            also accepted for a binary head.
        weight (Tensor, optional): per-pixel weights (N, H, W).
        class_weight (Tensor, optional): ``pos_weight`` of BCE, (C,).
        reduction (str): 'none', 'mean' or 'sum'.
        avg_factor (float, optional): explicit denominator for 'mean'.
        ignore_index (int): label left out of the loss.
        avg_non_ignore (bool): average over non-ignored elements.

    Returns:
        Tensor: scalar, or (N, C, H, W) for 'none'.
    """
    if label.dim() == pred.dim():
        label = label.squeeze(1)
    valid = (label >= 0) & (label != ignore_index)                 # (N, H, W)
    if pred.size(1) == 1:
        if bool((label[valid] > 1).any()):
            raise ValueError('a binary (out_channels=1) sigmoid loss needs labels in {0, 1} '
                             f'(or the ignore index {ignore_index}); got labels '
                             f'{sorted(set(label[valid].unique().tolist()))}')
        target = (label == 1).unsqueeze(1).float()
    else:
        target = F.one_hot(label.clamp(0, pred.size(1) - 1), pred.size(1))
        target = target.movedim(-1, 1).float()
    mask = valid.unsqueeze(1).float().expand_as(pred)
    if weight is not None:
        mask = mask * weight.unsqueeze(1).float()
    if avg_factor is None and avg_non_ignore and reduction == 'mean':
        avg_factor = valid.unsqueeze(1).expand_as(pred).sum().float()
    pos_weight = None if class_weight is None else class_weight.view(1, -1, 1, 1)
    loss = F.binary_cross_entropy_with_logits(pred, target, pos_weight=pos_weight,
                                              reduction='none')
    return reduce_loss(loss * mask, reduction, avg_factor)


def mask_cross_entropy(pred: torch.Tensor, target: torch.Tensor, label: torch.Tensor,
                       reduction: str = 'mean', avg_factor: Optional[float] = None,
                       class_weight: Optional[torch.Tensor] = None,
                       ignore_index: Optional[int] = None, **kwargs) -> torch.Tensor:
    """Mask cross entropy (instance masks): BCE of each RoI's mask of its own class.

    Args:
        pred (Tensor): mask logits (R, C, H, W).
        target (Tensor): mask targets in [0, 1], (R, H, W).
        label (Tensor): class of each RoI, (R,) int64.
        reduction (str): only 'mean'.
        avg_factor (float, optional): must be None.
        class_weight (Tensor, optional): element weight of the BCE.
        ignore_index (None): must be None (masks have no ignored label).

    Returns:
        Tensor: shape (1,).
    """
    if label is None:
        raise ValueError('CrossEntropyLoss(use_mask=True) is mask cross entropy: call it as '
                         'loss(mask_logits (R, C, H, W), mask_targets (R, H, W), '
                         'roi_labels (R,), ignore_index=None); a decode head cannot use it')
    if ignore_index is not None:
        raise ValueError('CrossEntropyLoss(use_mask=True) takes no ignore_index '
                         f'(got {ignore_index}); pass ignore_index=None')
    if reduction != 'mean' or avg_factor is not None:
        raise ValueError("CrossEntropyLoss(use_mask=True) supports only reduction='mean' "
                         'without avg_factor')
    rois = torch.arange(pred.size(0), device=pred.device)
    pred_slice = pred[rois, label.long()]
    return F.binary_cross_entropy_with_logits(pred_slice, target.float(),
                                              weight=class_weight, reduction='mean')[None]


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Cross entropy for semantic segmentation (registered as ``CrossEntropyLoss``).

    Args:
        use_sigmoid (bool): sigmoid BCE instead of softmax CE. Defaults to False.
        use_mask (bool): mask cross entropy of instance masks
            (:func:`mask_cross_entropy`; not usable in a decode head). Defaults to False.
        reduction (str): 'none', 'mean' or 'sum'. Defaults to 'mean'.
        class_weight (list[float] | str, optional): per-class weights, or a path to
            a ``.npy``/``.json`` file holding them.
        loss_weight (float): multiplier of the loss. Defaults to 1.0.
        loss_name (str): key of the loss in the loss dict; it must start with
            ``loss_`` to be back-propagated. Defaults to 'loss_ce'.
        avg_non_ignore (bool, optional): see the module docstring. Defaults to None:
            False, with a one-time warning (set it explicitly to silence it).
    """

    def __init__(self, use_sigmoid: bool = False, use_mask: bool = False,
                 reduction: str = 'mean',
                 class_weight: Union[None, str, Sequence[float]] = None,
                 loss_weight: float = 1.0, loss_name: str = 'loss_ce',
                 avg_non_ignore: Optional[bool] = None):
        super().__init__()
        if use_sigmoid and use_mask:
            raise ValueError('CrossEntropyLoss: use_sigmoid and use_mask cannot both be True')
        check_reduction(reduction)
        self.use_sigmoid = use_sigmoid
        self.use_mask = use_mask
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.class_weight = get_class_weight(class_weight)
        if avg_non_ignore is None:  # not set in the config: MMSegmentation's default
            if reduction == 'mean':
                _warn_avg_non_ignore_once()
            avg_non_ignore = False
        self.avg_non_ignore = bool(avg_non_ignore)
        self.cls_criterion = (binary_cross_entropy if use_sigmoid else
                              mask_cross_entropy if use_mask else cross_entropy)
        self._loss_name = loss_name

    def extra_repr(self) -> str:
        return f'avg_non_ignore={self.avg_non_ignore}'

    @property
    def loss_name(self) -> str:
        """str: the key of this loss in the head's loss dict."""
        return self._loss_name

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor,
                weight: Optional[torch.Tensor] = None, avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None, ignore_index: int = -100,
                **kwargs) -> torch.Tensor:
        """Compute ``loss_weight * CE``.

        Args:
            cls_score (Tensor): logits (N, C, H, W).
            label (Tensor): labels (N, H, W).
            weight (Tensor, optional): per-pixel weights (N, H, W).
            avg_factor (float, optional): explicit denominator for 'mean'.
            reduction_override (str, optional): replaces ``reduction`` for this call.
            ignore_index (int): label left out. Defaults to -100 (the heads pass 255).

        Returns:
            Tensor: the loss (scalar unless the reduction is 'none').
        """
        check_reduction(reduction_override or self.reduction, 'reduction_override')
        reduction = reduction_override or self.reduction
        class_weight = None
        if self.class_weight is not None:
            class_weight = cls_score.new_tensor(self.class_weight)
            if class_weight.numel() != cls_score.size(1) and not self.use_mask:
                raise ValueError(
                    f'loss_decode.class_weight has {class_weight.numel()} entries but the '
                    f'head predicts {cls_score.size(1)} classes')
        return self.loss_weight * self.cls_criterion(
            cls_score, label, weight, class_weight=class_weight, reduction=reduction,
            avg_factor=avg_factor, avg_non_ignore=self.avg_non_ignore,
            ignore_index=ignore_index, **kwargs)
