"""Residual blocks of the ResNet family: BasicBlock (R18/34) and Bottleneck (R50+).

Attribute names (``conv1``, ``bn1``, ``conv2``, ``bn2``, ``conv3``, ``bn3``,
``downsample``) are kept for weight compatibility with MMSegmentation checkpoints;
the norm names come from mmcv's ``build_norm_layer`` (``bn`` for every BatchNorm,
SyncBN included).
"""
from typing import Optional

import torch
import torch.utils.checkpoint as cp
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import nn

from fcn_mm.utils.typing_utils import OptConfigType, OptMultiConfig

__all__ = ['BasicBlock', 'Bottleneck']

_STYLES = ('pytorch', 'caffe')


def _check_style(style: str) -> None:
    if style not in _STYLES:
        raise ValueError(f'backbone.style must be one of {_STYLES}, got {style!r}')


class _ResidualBase(BaseModule):
    """Shared pieces: norm properties, residual add and gradient checkpointing.

    Subclasses define ``_residual(x)``, the residual branch.
    """

    expansion = 1

    @property
    def norm1(self) -> nn.Module:
        """nn.Module: the first norm layer (``bn1`` for BatchNorm)."""
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        """nn.Module: the second norm layer (``bn2`` for BatchNorm)."""
        return getattr(self, self.norm2_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual branch plus identity (or downsampled identity), then ReLU.

        Args:
            x (Tensor): (N, inplanes, H, W).

        Returns:
            Tensor: (N, planes * expansion, H / stride, W / stride).
        """
        def inner(inp: torch.Tensor) -> torch.Tensor:
            identity = inp if self.downsample is None else self.downsample(inp)
            return self._residual(inp) + identity

        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(inner, x, use_reentrant=False)
        else:
            out = inner(x)
        return self.relu(out)


class BasicBlock(_ResidualBase):
    """Two 3x3 convs; the first carries the stride and the dilation.

    Args:
        inplanes (int): input channels.
        planes (int): output channels (``expansion`` is 1).
        stride (int): stride of ``conv1``. Defaults to 1.
        dilation (int): dilation (and padding) of ``conv1``. Defaults to 1.
        downsample (nn.Module, optional): projection of the identity branch.
        style (str): 'pytorch' or 'caffe' (no difference for this block).
        with_cp (bool): use gradient checkpointing. Defaults to False.
        conv_cfg (dict, optional): conv layer config.
        norm_cfg (dict): norm layer config. Defaults to ``dict(type='BN')``.
        init_cfg (dict or list[dict], optional): initialisation config.
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: Optional[nn.Module] = None, style: str = 'pytorch',
                 with_cp: bool = False, conv_cfg: OptConfigType = None,
                 norm_cfg: dict = dict(type='BN'), init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg)
        _check_style(style)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, planes, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, planes, postfix=2)
        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, 3, stride=stride,
                                      padding=dilation, dilation=dilation, bias=False)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, 3, padding=1, bias=False)
        self.add_module(self.norm2_name, norm2)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.dilation = dilation
        self.with_cp = with_cp

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        return self.norm2(self.conv2(out))


class Bottleneck(_ResidualBase):
    """1x1 reduce, 3x3 (dilated), 1x1 expand (x4).

    With ``style='pytorch'`` the stride sits on the 3x3 conv, with ``'caffe'`` on
    the first 1x1 conv.

    Args:
        inplanes (int): input channels.
        planes (int): bottleneck channels; the output has ``planes * 4``.
        stride (int): the block's stride. Defaults to 1.
        dilation (int): dilation (and padding) of ``conv2``. Defaults to 1.
        downsample (nn.Module, optional): projection of the identity branch.
        style (str): 'pytorch' or 'caffe'. Defaults to 'pytorch'.
        with_cp (bool): use gradient checkpointing. Defaults to False.
        conv_cfg (dict, optional): conv layer config.
        norm_cfg (dict): norm layer config. Defaults to ``dict(type='BN')``.
        init_cfg (dict or list[dict], optional): initialisation config.
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: Optional[nn.Module] = None, style: str = 'pytorch',
                 with_cp: bool = False, conv_cfg: OptConfigType = None,
                 norm_cfg: dict = dict(type='BN'), init_cfg: OptMultiConfig = None):
        super().__init__(init_cfg)
        _check_style(style)
        self.inplanes, self.planes = inplanes, planes
        self.stride, self.dilation, self.style = stride, dilation, style
        self.with_cp = with_cp
        self.conv1_stride, self.conv2_stride = (1, stride) if style == 'pytorch' else (stride, 1)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, planes, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, planes, postfix=2)
        self.norm3_name, norm3 = build_norm_layer(norm_cfg, planes * self.expansion, postfix=3)
        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, kernel_size=1,
                                      stride=self.conv1_stride, bias=False)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, kernel_size=3,
                                      stride=self.conv2_stride, padding=dilation,
                                      dilation=dilation, bias=False)
        self.add_module(self.norm2_name, norm2)
        self.conv3 = build_conv_layer(conv_cfg, planes, planes * self.expansion,
                                      kernel_size=1, bias=False)
        self.add_module(self.norm3_name, norm3)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    @property
    def norm3(self) -> nn.Module:
        """nn.Module: the third norm layer (``bn3`` for BatchNorm)."""
        return getattr(self, self.norm3_name)

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.relu(self.norm2(self.conv2(out)))
        return self.norm3(self.conv3(out))
