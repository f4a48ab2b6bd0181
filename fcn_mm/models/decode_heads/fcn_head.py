"""FCNHead: ``num_convs`` conv-norm-act layers, optional concat with the input, classifier.

Reference: Long et al., Fully Convolutional Networks for Semantic Segmentation
(https://arxiv.org/abs/1411.4038).
"""
from typing import Sequence

import torch
from mmcv.cnn import ConvModule
from torch import nn

from fcn_mm.registry import MODELS

from .decode_head import BaseDecodeHead

__all__ = ['FCNHead']


@MODELS.register_module()
class FCNHead(BaseDecodeHead):
    """Fully convolutional head.

    Layers (module names kept for weight compatibility)::

        x ─ convs (num_convs x ConvModule k x k, dilation) ─ feats
        concat_input: conv_cat(cat[x, feats]) (ConvModule k x k, in+channels -> channels)
        cls_seg: dropout -> conv_seg (1x1, channels -> out_channels)

    Args:
        num_convs (int): conv-norm-act layers before the classifier; 0 requires
            ``in_channels == channels``. Defaults to 2.
        kernel_size (int): kernel size of the convs. Defaults to 3.
        concat_input (bool): concatenate the input with the conv output and fuse
            it with ``conv_cat``. Defaults to True.
        dilation (int): dilation of ``convs``. Defaults to 1.
        **kwargs: :class:`BaseDecodeHead` arguments (in_channels, channels,
            num_classes, ...).

    Shape:
        inputs[in_index] (N, in_channels, h, w) -> logits (N, out_channels, h, w).
    """

    def __init__(self, num_convs: int = 2, kernel_size: int = 3, concat_input: bool = True,
                 dilation: int = 1, **kwargs):
        if not isinstance(num_convs, int) or num_convs < 0:
            raise ValueError(f'decode_head.num_convs must be an int >= 0, got {num_convs!r}')
        if not isinstance(dilation, int) or dilation <= 0:
            raise ValueError(f'decode_head.dilation must be an int > 0, got {dilation!r}')
        if not isinstance(kernel_size, int) or kernel_size <= 0 or kernel_size % 2 == 0:
            raise ValueError(f'decode_head.kernel_size must be a positive odd int, '
                             f'got {kernel_size!r}')
        self.num_convs = num_convs
        self.concat_input = concat_input
        self.kernel_size = kernel_size
        self.dilation = dilation
        super().__init__(**kwargs)
        if num_convs == 0 and self.in_channels != self.channels:
            raise ValueError(
                f'decode_head.num_convs=0 passes the input straight to the classifier, so '
                f'in_channels ({self.in_channels}) must equal channels ({self.channels})')
        conv_kwargs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        convs = [ConvModule(self.in_channels if i == 0 else self.channels, self.channels,
                            kernel_size=kernel_size, padding=(kernel_size // 2) * dilation,
                            dilation=dilation, **conv_kwargs) for i in range(num_convs)]
        self.convs = nn.Sequential(*convs) if convs else nn.Identity()
        if concat_input:
            self.conv_cat = ConvModule(self.in_channels + self.channels, self.channels,
                                       kernel_size=kernel_size, padding=kernel_size // 2,
                                       **conv_kwargs)

    def _forward_feature(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Features before the classifier: (N, channels, h, w)."""
        x = self._transform_inputs(inputs)
        feats = self.convs(x)
        if self.concat_input:
            feats = self.conv_cat(torch.cat([x, feats], dim=1))
        return feats

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Logits (N, out_channels, h, w) from the backbone outputs ``inputs``."""
        return self.cls_seg(self._forward_feature(inputs))
