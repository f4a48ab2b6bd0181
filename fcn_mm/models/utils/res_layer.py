"""ResLayer: one ResNet stage (a sequence of residual blocks)."""
from typing import Optional, Sequence, Type

from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import Sequential
from torch import nn

from fcn_mm.utils.typing_utils import OptConfigType

__all__ = ['ResLayer', 'block_dilations']


def _make_downsample(block: Type[nn.Module], inplanes: int, planes: int, stride: int,
                     avg_down: bool, conv_cfg: OptConfigType,
                     norm_cfg: dict) -> Optional[nn.Sequential]:
    """The identity-branch projection, or None when shapes already match.

    With ``avg_down`` an ``AvgPool2d(stride)`` comes first (even for stride 1, as
    MMSegmentation does, so the keys are ``downsample.{1,2}``) and the 1x1 conv
    has stride 1; otherwise the 1x1 conv carries the stride (``downsample.{0,1}``).
    """
    out_channels = planes * block.expansion
    if stride == 1 and inplanes == out_channels:
        return None
    layers = []
    conv_stride = stride
    if avg_down:
        conv_stride = 1
        layers.append(nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True,
                                   count_include_pad=False))
    layers.append(build_conv_layer(conv_cfg, inplanes, out_channels, kernel_size=1,
                                   stride=conv_stride, bias=False))
    layers.append(build_norm_layer(norm_cfg, out_channels)[1])
    return nn.Sequential(*layers)


def block_dilations(num_blocks: int, dilation: int, contract_dilation: bool = False,
                    multi_grid: Optional[Sequence[int]] = None) -> list:
    """Dilation of each block of a stage.

    Args:
        num_blocks (int): blocks in the stage.
        dilation (int): the stage's dilation.
        contract_dilation (bool): the first block uses ``dilation // 2`` when
            ``dilation > 1`` (stage 3 of an -d8 net: 1, stage 4: 2).
        multi_grid (Sequence[int], optional): explicit per-block dilations; wins
            over ``dilation`` and ``contract_dilation``.

    Returns:
        list[int]: ``num_blocks`` dilations.
    """
    if multi_grid is not None:
        if len(multi_grid) != num_blocks:
            raise ValueError(f'backbone.multi_grid needs one dilation per block of the last '
                             f'stage ({num_blocks}), got {tuple(multi_grid)}')
        return [int(d) for d in multi_grid]
    first = dilation // 2 if (contract_dilation and dilation > 1) else dilation
    return [first] + [dilation] * (num_blocks - 1)


class ResLayer(Sequential):
    """A ResNet stage: a first block that may stride/project, then ``num_blocks - 1``.

    Args:
        block (type): ``BasicBlock`` or ``Bottleneck``.
        inplanes (int): input channels of the stage.
        planes (int): block planes; the stage outputs ``planes * block.expansion``.
        num_blocks (int): number of blocks.
        stride (int): stride of the first block. Defaults to 1.
        dilation (int): dilation of the blocks. Defaults to 1.
        avg_down (bool): downsample the identity with AvgPool + stride-1 conv.
        conv_cfg (dict, optional): conv layer config.
        norm_cfg (dict): norm layer config. Defaults to ``dict(type='BN')``.
        multi_grid (Sequence[int], optional): per-block dilations.
        contract_dilation (bool): halve the first block's dilation when > 1.
        **kwargs: passed to every block (style, with_cp, init_cfg).

    Shape:
        (N, inplanes, H, W) -> (N, planes * expansion, H / stride, W / stride).
    """

    def __init__(self, block: Type[nn.Module], inplanes: int, planes: int, num_blocks: int,
                 stride: int = 1, dilation: int = 1, avg_down: bool = False,
                 conv_cfg: OptConfigType = None, norm_cfg: dict = dict(type='BN'),
                 multi_grid: Optional[Sequence[int]] = None,
                 contract_dilation: bool = False, **kwargs):
        self.block = block
        downsample = _make_downsample(block, inplanes, planes, stride, avg_down,
                                      conv_cfg, norm_cfg)
        dilations = block_dilations(num_blocks, dilation, contract_dilation, multi_grid)
        layers = []
        for i, block_dilation in enumerate(dilations):
            layers.append(block(inplanes=inplanes, planes=planes,
                                stride=stride if i == 0 else 1, dilation=block_dilation,
                                downsample=downsample if i == 0 else None,
                                conv_cfg=conv_cfg, norm_cfg=norm_cfg, **kwargs))
            inplanes = planes * block.expansion
        super().__init__(*layers)
