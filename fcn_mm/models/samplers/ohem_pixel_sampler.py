"""OHEMPixelSampler: online hard example mining of pixels, MMSegmentation 1.2.2's semantics.

The sampler gives a 0/1 weight per pixel (0 for ignored pixels); the head's losses
then see only the kept pixels through ``weight=``. With ``batch_kept = min_kept * N``:

* threshold mode (``thresh`` set): the probability of each valid pixel's label
  (softmax; sigmoid of the logit for a single-channel head) is sorted ascending; the
  pixels below ``max(thresh, p_(batch_kept))`` are kept: every pixel the model is
  less sure of than ``thresh``, and at least ``batch_kept`` of them.
* top-k mode (``thresh=None``): the ``batch_kept`` valid pixels with the largest
  sum of the head's losses (``reduction_override='none'``) are kept.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from fcn_mm.registry import TASK_UTILS

from .base_pixel_sampler import BasePixelSampler

__all__ = ['OHEMPixelSampler']


def _label_probability(seg_logit: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) logits, (N, H, W) labels (valid ones in range) -> (N, H, W)."""
    if seg_logit.size(1) == 1:
        prob = seg_logit[:, 0].sigmoid()
        return torch.where(label == 1, prob, 1 - prob)
    return F.softmax(seg_logit, dim=1).gather(1, label.unsqueeze(1)).squeeze(1)


def _pixel_losses(losses: torch.Tensor, label: torch.Tensor, name: str) -> torch.Tensor:
    """A loss with reduction 'none' as (N, H, W): channels summed."""
    if losses.dim() == label.dim() + 1:
        losses = losses.sum(1)
    if losses.shape != label.shape:
        raise ValueError(f'OHEMPixelSampler (thresh=None) needs per-pixel losses; '
                         f'{name} gives shape {tuple(losses.shape)} for labels '
                         f'{tuple(label.shape)} with reduction_override="none"')
    return losses


@TASK_UTILS.register_module()
class OHEMPixelSampler(BasePixelSampler):
    """Online hard example mining pixel sampler (registered as ``OHEMPixelSampler``).

    Args:
        context (nn.Module): the decode head (``ignore_index``, ``loss_decode``);
            the head passes itself.
        thresh (float, optional): probability threshold; None selects the
            ``min_kept`` pixels of largest loss. Defaults to None.
        min_kept (int): pixels kept at least, per image. Defaults to 100000.
    """

    def __init__(self, context: nn.Module, thresh: Optional[float] = None,
                 min_kept: int = 100000):
        super().__init__()
        if not min_kept > 1:
            raise ValueError(f'OHEMPixelSampler.min_kept must be > 1, got {min_kept}')
        if thresh is not None and not 0 <= thresh <= 1:
            raise ValueError(f'OHEMPixelSampler.thresh must be in [0, 1] or None, got {thresh}')
        self.context = context
        self.thresh = thresh
        self.min_kept = int(min_kept)

    def sample(self, seg_logit: torch.Tensor, seg_label: torch.Tensor) -> torch.Tensor:
        """Pixel weights of the kept pixels.

        Args:
            seg_logit (Tensor): (N, C, H, W) logits at the label size.
            seg_label (Tensor): (N, 1, H, W) labels.

        Returns:
            Tensor: (N, H, W), 1 for kept pixels, 0 elsewhere (no gradient).
        """
        if seg_logit.shape[2:] != seg_label.shape[2:] or seg_label.size(1) != 1:
            raise ValueError('OHEMPixelSampler.sample expects logits (N, C, H, W) and labels '
                             f'(N, 1, H, W) of one size, got {tuple(seg_logit.shape)} and '
                             f'{tuple(seg_label.shape)}')
        with torch.no_grad():
            label = seg_label.squeeze(1).long()
            ignore_index = self.context.ignore_index
            batch_kept = self.min_kept * label.size(0)
            valid = label != ignore_index
            seg_weight = seg_logit.new_zeros(label.shape)
            valid_weight = seg_weight[valid]
            if self.thresh is not None:
                prob = _label_probability(seg_logit, label.masked_fill(~valid, 0))[valid]
                sorted_prob = prob.sort()[0]
                min_threshold = (sorted_prob[min(batch_kept, sorted_prob.numel() - 1)]
                                 if sorted_prob.numel() > 0 else 0.0)
                threshold = max(float(min_threshold), self.thresh)
                valid_weight[prob < threshold] = 1.0
            else:
                losses_decode = self.context.loss_decode
                if not isinstance(losses_decode, nn.ModuleList):
                    losses_decode = [losses_decode]
                losses = 0.0
                for loss_module in losses_decode:
                    losses = losses + _pixel_losses(
                        loss_module(seg_logit, label, weight=None, ignore_index=ignore_index,
                                    reduction_override='none'),
                        label, type(loss_module).__name__)
                order = losses[valid].sort(descending=True)[1]
                valid_weight[order[:batch_kept]] = 1.0
            seg_weight[valid] = valid_weight
        return seg_weight
