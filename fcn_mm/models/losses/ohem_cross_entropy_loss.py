"""OhemCrossEntropy: cross entropy over the hard pixels only (MMSegmentation 1.2.2's, from PIDNet).

Among the non-ignored pixels, sorted by the softmax probability of their label
``p_i`` (ascending), keep those with ``p_i < max(thres, p_(min_kept))`` and average
their (class-weighted) cross entropy: at least ``min_kept`` pixels, more where the
model is less sure than ``thres``. The argument names ``thres`` and ``ignore_label``
are MMSegmentation's.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from fcn_mm.registry import MODELS

from .utils import get_class_weight

__all__ = ['OhemCrossEntropy']


@MODELS.register_module()
class OhemCrossEntropy(nn.Module):
    """Online hard example mining cross entropy (registered as ``OhemCrossEntropy``).

    Args:
        ignore_label (int): label left out. Defaults to 255.
        thres (float): probability below which a pixel is hard. Defaults to 0.7.
        min_kept (int): at least this many pixels (of the batch) are kept.
            Defaults to 100000.
        loss_weight (float): multiplier. Defaults to 1.0.
        class_weight (list[float] | str, optional): per-class weights or a file.
        loss_name (str): key in the loss dict. Defaults to 'loss_ohem'.
    """

    def __init__(self, ignore_label: int = 255, thres: float = 0.7, min_kept: int = 100000,
                 loss_weight: float = 1.0,
                 class_weight: Union[None, str, Sequence[float]] = None,
                 loss_name: str = 'loss_ohem'):
        super().__init__()
        self.thresh = thres
        self.min_kept = max(1, int(min_kept))
        self.ignore_label = ignore_label
        self.loss_weight = loss_weight
        self.class_weight = get_class_weight(class_weight, 'OhemCrossEntropy.class_weight')
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """str: the key of this loss in the head's loss dict."""
        return self._loss_name

    def forward(self, score: torch.Tensor, target: torch.Tensor,
                weight: Optional[torch.Tensor] = None, **kwargs) -> torch.Tensor:
        """Compute ``loss_weight * mean CE over the hard pixels``.

        Args:
            score (Tensor): logits (N, C, H, W).
            target (Tensor): labels (N, H, W).
            weight (Tensor, optional): pixel weights (N, H, W); pixels weighted 0 are
                left out (a pixel sampler's mask).
            kwargs: ``ignore_index`` is not used; ``ignore_label`` applies.

        Returns:
            Tensor: scalar (0 when no pixel is valid).
        """
        class_weight = None if self.class_weight is None else score.new_tensor(self.class_weight)
        pixel_losses = F.cross_entropy(score, target, weight=class_weight,
                                       ignore_index=self.ignore_label,
                                       reduction='none').reshape(-1)
        valid = target.reshape(-1) != self.ignore_label
        if weight is not None:
            valid &= weight.reshape(-1) != 0
        safe = target.masked_fill(target == self.ignore_label, 0)
        prob = F.softmax(score, dim=1).gather(1, safe.unsqueeze(1)).reshape(-1)
        prob, order = prob[valid].sort()
        if prob.numel() == 0:
            return score.sum() * 0.0
        threshold = max(float(prob[min(self.min_kept, prob.numel() - 1)].detach()), self.thresh)
        kept = pixel_losses[valid][order][prob < threshold]
        if kept.numel() == 0:
            return score.sum() * 0.0
        return self.loss_weight * kept.mean()
