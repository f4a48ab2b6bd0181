"""Pixel accuracy (in percent) of segmentation logits, ignoring ``ignore_index``."""
from typing import Optional, Sequence, Tuple, Union

import torch

__all__ = ['accuracy']


def accuracy(pred: torch.Tensor, target: torch.Tensor,
             topk: Union[int, Sequence[int]] = 1, thresh: Optional[float] = None,
             ignore_index: Optional[int] = None
             ) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
    """Top-k accuracy in percent over the pixels whose label is not ``ignore_index``.

    Args:
        pred (Tensor): scores, (N, C, ...) e.g. (N, C, H, W).
        target (Tensor): labels, (N, ...) e.g. (N, H, W).
        topk (int | Sequence[int]): k of top-k. Defaults to 1.
        thresh (float, optional): a top-k hit also needs a score above this.
        ignore_index (int, optional): label that is left out of the count.

    Returns:
        Tensor | tuple[Tensor]: shape (1,), e.g. ``tensor([87.5])``; a tuple
        when ``topk`` is a sequence. 0 when every pixel is ignored.
    """
    ks = (topk,) if isinstance(topk, int) else tuple(topk)
    if pred.dim() != target.dim() + 1:
        raise ValueError(f'accuracy expects pred (N, C, ...) and target (N, ...), got '
                         f'{tuple(pred.shape)} and {tuple(target.shape)}')
    if pred.size(0) == 0:
        res = tuple(pred.new_zeros(1) for _ in ks)
        return res[0] if isinstance(topk, int) else res
    if max(ks) == 1:  # max is several times faster than topk(1) on CPU
        values, labels = pred.max(dim=1, keepdim=True)     # (N, 1, ...)
    else:
        values, labels = pred.topk(max(ks), dim=1)         # (N, k, ...)
    hits = labels.eq(target.unsqueeze(1))                  # (N, k, ...)
    if thresh is not None:
        hits &= values > thresh
    valid = (target != ignore_index) if ignore_index is not None \
        else torch.ones_like(target, dtype=torch.bool)
    total = valid.sum().float()
    res = []
    for k in ks:
        correct = (hits[:, :k].any(dim=1) & valid).sum().float()
        res.append((correct * 100.0 / total.clamp_min(1.0)).reshape(1))
    return res[0] if isinstance(topk, int) else tuple(res)
