"""Transposed convolutions that start as bilinear interpolation (FCN's ``upscore`` layers).

The kernel is the one of the FCN paper's Caffe code: for a k x k kernel,
``f = (k + 1) // 2``, centre ``c = f - 1`` (odd k) or ``f - 0.5`` (even k), and
``w[i, j] = (1 - |i - c| / f) * (1 - |j - c| / f)``; channel ``i`` maps to channel ``i``
only (the other weights are 0), so each class score map is upsampled on its own.

With kernel ``2 s``, stride ``s`` and padding ``s // 2`` (``s`` even) the layer computes
exactly ``F.interpolate(x, scale_factor=s, mode='bilinear', align_corners=False)``
away from the borders; the Caffe network uses no padding and crops instead.
"""
from typing import Optional

import torch
from torch import nn

__all__ = ['bilinear_kernel', 'BilinearConvTranspose2d']


def bilinear_kernel(channels: int, kernel_size: int, device=None,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The (channels, channels, k, k) weight of a channel-wise bilinear upsampler.

    Args:
        channels (int): input = output channels.
        kernel_size (int): k.
        device (torch.device, optional): where to create it.
        dtype (torch.dtype): its dtype. Defaults to float32.

    Returns:
        Tensor: (channels, channels, k, k); ``[i, i]`` is the bilinear kernel, the rest 0.
    """
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    steps = torch.arange(kernel_size, device=device, dtype=dtype)
    profile = 1 - (steps - center).abs() / factor
    kernel = profile[:, None] * profile[None, :]
    weight = torch.zeros(channels, channels, kernel_size, kernel_size, device=device,
                         dtype=dtype)
    index = torch.arange(channels, device=device)
    weight[index, index] = kernel
    return weight


class BilinearConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` without bias, initialised as bilinear upsampling by ``stride``.

    ``reset_parameters`` (run at construction) writes :func:`bilinear_kernel`, so the
    layer is bilinear before any ``init_weights``; loading a state dict replaces it.

    Args:
        channels (int): input = output channels (class scores).
        stride (int): the upsampling factor s.
        kernel_size (int, optional): k; defaults to ``2 * stride``.
        padding (int): as ``nn.ConvTranspose2d``: 0 (Caffe: crop afterwards) or
            ``stride // 2`` (output exactly ``stride`` times the input). Defaults to 0.
        frozen (bool): set ``requires_grad=False`` on the weight (a fixed
            interpolation, as the paper keeps its last upsampler). Defaults to False.

    Shape:
        (N, C, h, w) -> (N, C, (h - 1) * s + k - 2 * padding, (w - 1) * s + k - 2 * padding).
    """

    def __init__(self, channels: int, stride: int, kernel_size: Optional[int] = None,
                 padding: int = 0, frozen: bool = False) -> None:
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f'upsampling stride must be an int >= 1, got {stride!r}')
        kernel_size = 2 * stride if kernel_size is None else kernel_size
        super().__init__(channels, channels, kernel_size=kernel_size, stride=stride,
                         padding=padding, bias=False)
        self.frozen = frozen
        if frozen:
            self.weight.requires_grad_(False)

    def reset_parameters(self) -> None:
        """Write the bilinear kernel into ``weight`` (there is no bias)."""
        with torch.no_grad():
            self.weight.copy_(bilinear_kernel(self.in_channels, self.kernel_size[0],
                                              device=self.weight.device,
                                              dtype=self.weight.dtype))

    def extra_repr(self) -> str:
        return super().extra_repr() + (', frozen=True' if self.frozen else '')
