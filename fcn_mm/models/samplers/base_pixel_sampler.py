"""BasePixelSampler: what a decode head's ``sampler`` provides."""
from abc import ABCMeta, abstractmethod

import torch

__all__ = ['BasePixelSampler']


class BasePixelSampler(metaclass=ABCMeta):
    """Base of pixel samplers: ``sample(seg_logit, seg_label) -> seg_weight``."""

    def __init__(self, **kwargs):
        pass

    @abstractmethod
    def sample(self, seg_logit: torch.Tensor, seg_label: torch.Tensor) -> torch.Tensor:
        """Pixel weights (N, H, W) for logits (N, C, H, W) and labels (N, 1, H, W)."""
