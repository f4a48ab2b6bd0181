"""ResNet backbones: ResNet (V1b), ResNetV1c (deep stem) and ResNetV1d (+ avg_down).

Module names (``stem``, ``conv1``/``bn1``, ``layer1`` ... ``layer4``) are kept for
weight compatibility with MMSegmentation and open-mmlab model-zoo checkpoints.
"""
from typing import Optional, Sequence, Tuple

import torch
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from fcn_mm.registry import MODELS
from fcn_mm.utils.typing_utils import OptConfigType, OptMultiConfig

from ..utils import BasicBlock, Bottleneck, ResLayer, check_norm_cfg, conv_norm_act_layers
from .mmpretrain_layout import rename_mmpretrain_resnet_keys

__all__ = ['ResNet', 'ResNetV1c', 'ResNetV1d', 'BasicBlock', 'Bottleneck']


def _resolve_init_cfg(pretrained: Optional[str], init_cfg: OptMultiConfig,
                      block: type, zero_init_residual: bool) -> tuple:
    """Turn ``pretrained``/``init_cfg`` into (model init_cfg, block init_cfg)."""
    if pretrained is not None and init_cfg is not None:
        raise ValueError('backbone.pretrained and backbone.init_cfg cannot both be set; '
                         f'got pretrained={pretrained!r}, init_cfg={init_cfg!r}')
    if pretrained is not None:
        if not isinstance(pretrained, str):
            raise TypeError(f'backbone.pretrained must be a str or None, got {pretrained!r}')
        # Name resolution (open-mmlab://, mmcls://, paths) happens in mmengine's
        # CheckpointLoader when the model's init_weights() runs.
        return dict(type='Pretrained', checkpoint=pretrained), None
    if init_cfg is not None:
        return init_cfg, None
    default = [dict(type='Kaiming', layer='Conv2d'),
               dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]
    block_init = None
    if zero_init_residual:
        last_norm = 'norm2' if block is BasicBlock else 'norm3'
        block_init = dict(type='Constant', val=0, override=dict(name=last_norm))
    return default, block_init


@MODELS.register_module()
class ResNet(BaseModule):
    """ResNet backbone with dilation (for -d8/-d16 segmentation nets).

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        in_channels (int): input image channels. Defaults to 3.
        stem_channels (int): stem output channels. Defaults to 64.
        base_channels (int): planes of the first stage. Defaults to 64.
        num_stages (int): 1 to 4 stages. Defaults to 4.
        strides (Sequence[int]): stride of each stage. Defaults to (1, 2, 2, 2).
        dilations (Sequence[int]): dilation of each stage. Defaults to (1, 1, 1, 1).
        out_indices (Sequence[int]): stages whose outputs are returned.
        style (str): 'pytorch' (stride on the 3x3 conv) or 'caffe' (on the 1x1).
        deep_stem (bool): three 3x3 convs instead of one 7x7 (V1c). Defaults to False.
        avg_down (bool): AvgPool in the identity downsample (V1d). Defaults to False.
        frozen_stages (int): stages (0 = stem only) to freeze; -1 freezes none.
        conv_cfg (dict, optional): conv layer config.
        norm_cfg (dict): norm layer config. Defaults to ``dict(type='BN', requires_grad=True)``.
        norm_eval (bool): keep every BatchNorm in eval mode during training.
        multi_grid (Sequence[int], optional): dilations of the last stage's blocks.
        contract_dilation (bool): the first block of a stage with dilation d > 1 uses d // 2.
        with_cp (bool): gradient checkpointing in the blocks. Defaults to False.
        zero_init_residual (bool): zero-init the last norm of each block (only for the
            default init, i.e. without ``pretrained``/``init_cfg``). Defaults to True.
        pretrained (str, optional): checkpoint to load; becomes
            ``init_cfg=dict(type='Pretrained', checkpoint=pretrained)``.
        init_cfg (dict or list[dict], optional): initialisation config.

    Attributes:
        out_channels (tuple[int]): channels of each returned feature map.

    Example:
        >>> import torch
        >>> from fcn_mm.models.backbones import ResNetV1c
        >>> net = ResNetV1c(depth=18, strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
        ...                 contract_dilation=True).eval()
        >>> with torch.no_grad():
        ...     outs = net(torch.rand(1, 3, 64, 64))
        >>> [tuple(o.shape) for o in outs]  # output stride 8
        [(1, 64, 16, 16), (1, 128, 8, 8), (1, 256, 8, 8), (1, 512, 8, 8)]
        >>> net.out_channels
        (64, 128, 256, 512)
    """

    arch_settings = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(self, depth: int, in_channels: int = 3, stem_channels: int = 64,
                 base_channels: int = 64, num_stages: int = 4,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 out_indices: Sequence[int] = (0, 1, 2, 3), style: str = 'pytorch',
                 deep_stem: bool = False, avg_down: bool = False, frozen_stages: int = -1,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False, multi_grid: Optional[Sequence[int]] = None,
                 contract_dilation: bool = False, with_cp: bool = False,
                 zero_init_residual: bool = True, pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None):
        if depth not in self.arch_settings:
            raise KeyError(f'backbone.depth={depth!r} is not a ResNet depth; expected one '
                           f'of {sorted(self.arch_settings)}')
        block, stage_blocks = self.arch_settings[depth]
        model_init, block_init = _resolve_init_cfg(pretrained, init_cfg, block,
                                                   zero_init_residual)
        super().__init__(model_init)
        self.pretrained = pretrained
        self._check_args(num_stages, strides, dilations, out_indices)
        check_norm_cfg(norm_cfg, 'backbone.norm_cfg')
        self.depth, self.block = depth, block
        self.stem_channels, self.base_channels = stem_channels, base_channels
        self.num_stages = num_stages
        self.strides, self.dilations = tuple(strides), tuple(dilations)
        self.out_indices = tuple(out_indices)
        self.style, self.deep_stem, self.avg_down = style, deep_stem, avg_down
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        self.conv_cfg, self.norm_cfg = conv_cfg, norm_cfg
        self.multi_grid, self.contract_dilation = multi_grid, contract_dilation
        self.with_cp, self.zero_init_residual = with_cp, zero_init_residual
        self.stage_blocks = stage_blocks[:num_stages]

        self._make_stem_layer(in_channels, stem_channels)
        self.res_layers = []
        inplanes = stem_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2**i
            layer = ResLayer(
                block=block, inplanes=inplanes, planes=planes, num_blocks=num_blocks,
                stride=self.strides[i], dilation=self.dilations[i], style=style,
                avg_down=avg_down, with_cp=with_cp, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                multi_grid=multi_grid if i == num_stages - 1 else None,
                contract_dilation=contract_dilation, init_cfg=block_init)
            inplanes = planes * block.expansion
            # 'layer{i}' kept for weight compatibility.
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
        self.out_channels: Tuple[int, ...] = tuple(
            base_channels * 2**i * block.expansion for i in self.out_indices)
        self._freeze_stages()
        self.register_load_state_dict_pre_hook(self._accept_mmpretrain_layout)

    @staticmethod
    def _accept_mmpretrain_layout(module: 'ResNet', state_dict: dict, prefix: str,
                                  *args) -> None:
        """``load_state_dict`` pre-hook: rename mmpretrain (mmcls) layout keys, and say so."""
        renamed = rename_mmpretrain_resnet_keys(state_dict, prefix, module)
        if renamed:
            print_log(f'{type(module).__name__}: renamed {len(renamed)} weights of the '
                      'mmpretrain (mmcls) layout to this layout, e.g. '
                      f'{renamed[0][0]} -> {renamed[0][1]}', logger='current')

    @staticmethod
    def _check_args(num_stages, strides, dilations, out_indices) -> None:
        if not 1 <= num_stages <= 4:
            raise ValueError(f'backbone.num_stages must be 1..4, got {num_stages}')
        if not len(strides) == len(dilations) == num_stages:
            raise ValueError(
                f'backbone.strides {tuple(strides)} and backbone.dilations '
                f'{tuple(dilations)} need one entry per stage (num_stages={num_stages})')
        if not out_indices or max(out_indices) >= num_stages or min(out_indices) < 0:
            raise ValueError(f'backbone.out_indices {tuple(out_indices)} must be stage '
                             f'indices in 0..{num_stages - 1}')

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        """Deep stem (3x3 s2 -> c/2, 3x3 -> c/2, 3x3 -> c) or one 7x7 s2 conv; then max-pool."""
        if self.deep_stem:
            half = stem_channels // 2
            self.stem = nn.Sequential(
                *conv_norm_act_layers(self.conv_cfg, self.norm_cfg, in_channels, half,
                                      stride=2),
                *conv_norm_act_layers(self.conv_cfg, self.norm_cfg, half, half),
                *conv_norm_act_layers(self.conv_cfg, self.norm_cfg, half, stem_channels))
        else:
            self.conv1 = build_conv_layer(self.conv_cfg, in_channels, stem_channels,
                                          kernel_size=7, stride=2, padding=3, bias=False)
            self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels,
                                                      postfix=1)
            self.add_module(self.norm1_name, norm1)
            self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    @property
    def norm1(self) -> nn.Module:
        """nn.Module: the stem's norm layer (plain stem only)."""
        return getattr(self, self.norm1_name)

    def _freeze_stages(self) -> None:
        """Stop gradients and put BN in eval mode for the stem and ``frozen_stages`` stages."""
        if self.frozen_stages < 0:
            return
        frozen = [self.stem] if self.deep_stem else [self.conv1, self.norm1]
        frozen += [getattr(self, f'layer{i}') for i in range(1, self.frozen_stages + 1)]
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Run the stem and the stages.

        Args:
            x (Tensor): (N, in_channels, H, W).

        Returns:
            tuple[Tensor]: one (N, out_channels[k], H / s_k, W / s_k) map per out index.
        """
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> 'ResNet':
        """Switch mode; frozen stages and (with ``norm_eval``) all BN stay in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


@MODELS.register_module()
class ResNetV1c(ResNet):
    """ResNet with the deep stem (three 3x3 convs), `Bag of Tricks`_ V1c.

    .. _Bag of Tricks: https://arxiv.org/abs/1812.01187

    Args:
        **kwargs: as :class:`ResNet` (``deep_stem`` and ``avg_down`` are fixed).
    """

    def __init__(self, **kwargs):
        super().__init__(deep_stem=True, avg_down=False, **kwargs)


@MODELS.register_module()
class ResNetV1d(ResNet):
    """ResNetV1c plus an AvgPool before the identity projection (V1d).

    Args:
        **kwargs: as :class:`ResNet` (``deep_stem`` and ``avg_down`` are fixed).
    """

    def __init__(self, **kwargs):
        super().__init__(deep_stem=True, avg_down=True, **kwargs)
