"""VGG backbone (11/13/16/19 layers, optional BN) with convolutionalised fc6/fc7 (FCN).

Layers are named as in the FCN paper's Caffe nets, so checkpoints read like them:
``conv{stage}_{i}`` (3x3, bias), ``bn{stage}_{i}`` (BN variant), ``relu{stage}_{i}``,
``pool{stage}`` (2x2 max-pool, stride 2), then ``fc6`` (k x k conv), ``relu6``,
``drop6``, ``fc7`` (1x1 conv), ``relu7``, ``drop7``. torchvision's ``vgg*`` weights
(``features.N``, ``classifier.N``) are renamed on loading
(:mod:`.vgg_torchvision_layout`).
"""
from typing import List, Optional, Sequence, Tuple

import torch
from mmcv.cnn import build_norm_layer
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from fcn_mm.registry import MODELS
from fcn_mm.utils.typing_utils import OptConfigType, OptMultiConfig

from ..utils import check_norm_cfg
from .vgg_torchvision_layout import adapt_first_conv, rename_torchvision_vgg_keys

__all__ = ['VGG']


def _resolve_init_cfg(pretrained: Optional[str], init_cfg: OptMultiConfig) -> OptMultiConfig:
    if pretrained is not None and init_cfg is not None:
        raise ValueError('backbone.pretrained and backbone.init_cfg cannot both be set; '
                         f'got pretrained={pretrained!r}, init_cfg={init_cfg!r}')
    if pretrained is not None:
        if not isinstance(pretrained, str):
            raise TypeError(f'backbone.pretrained must be a str or None, got {pretrained!r}')
        return dict(type='Pretrained', checkpoint=pretrained)
    if init_cfg is not None:
        return init_cfg
    # torchvision's VGG initialisation, for training from scratch
    return [dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu'),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]


@MODELS.register_module()
class VGG(BaseModule):
    """VGG as a segmentation backbone; with ``fc_channels`` the FCN paper's fc6/fc7.

    Stage ``i`` (0-based) has ``stage_blocks[i]`` 3x3 convs of
    ``base_channels * 2**min(i, 3)`` channels and ends with a 2x2 max-pool, so its
    output has stride ``2**(i + 1)``. ``out_indices`` picks pooled stage outputs
    (0..num_stages-1) and ``num_stages`` stands for the fc7 output.

    The FCN paper's "Caffe-exact" network is ``first_conv_padding=100``,
    ``ceil_mode=True``, ``fc6_kernel_size=7``, ``fc6_padding=0`` (any input survives
    the /32 and the valid 7x7 fc6; the head crops back to the input size); the
    aligned variant is ``first_conv_padding=1`` and ``fc6_padding=3``.

    Args:
        depth (int): 11, 13, 16 or 19. Defaults to 16.
        in_channels (int): image channels. Defaults to 3.
        base_channels (int): channels of stage 0 (64 in VGG). Defaults to 64.
        num_stages (int): 1 to 5 stages. Defaults to 5.
        out_indices (Sequence[int]): stages to return; ``num_stages`` is fc7.
            Defaults to (0, 1, 2, 3, 4).
        first_conv_padding (int): padding of ``conv1_1``. Defaults to 1.
        ceil_mode (bool): max-pools round up (Caffe) rather than down (torchvision);
            equal for sizes divisible by 32. Defaults to True.
        fc_channels (int, optional): channels of fc6/fc7 (4096 in VGG); None builds
            no fc layers. Defaults to None.
        fc6_kernel_size (int): kernel of fc6 (7: torchvision's 7x7 classifier input).
        fc6_padding (int): padding of fc6. Defaults to 0.
        fc_dropout (float): dropout after fc6 and fc7 (0.5 in VGG). Defaults to 0.5.
        return_input (bool): put the input image first in the outputs, so that a head
            can crop to its size, as Caffe's crop layers refer to the data blob
            (:class:`~fcn_mm.models.decode_heads.FCNSkipHead`). Defaults to False.
        input_norm_cfg (dict, optional): ``dict(mean=[...], std=[...], bgr=bool)``, the
            normalisation of this network's inputs (0..255 scale) when it differs
            from torchvision's: torchvision-layout weights are then adapted on loading
            (``conv1_1``, see :func:`adapt_first_conv`). Other layouts load unchanged.
        norm_cfg (dict, optional): norm after each 3x3 conv (VGG-BN); None: plain VGG.
        norm_eval (bool): keep BN layers in eval mode while training. Defaults to False.
        pretrained (str, optional): a checkpoint, e.g. ``'torchvision://vgg16'``.
        init_cfg (dict | list[dict], optional): defaults to Kaiming (fan_out) convs.

    Attributes:
        out_channels (tuple[int]): channels of each returned map (3 first with
            ``return_input``).

    Example:
        >>> import torch
        >>> from fcn_mm.models.backbones import VGG
        >>> net = VGG(depth=16, base_channels=8, out_indices=(2, 3, 5), fc_channels=32,
        ...           fc6_kernel_size=7, fc6_padding=3).eval()
        >>> with torch.no_grad():
        ...     outs = net(torch.rand(1, 3, 97, 131))
        >>> [tuple(o.shape) for o in outs]  # pool3 (/8), pool4 (/16), fc7 (/32), rounded up
        [(1, 32, 13, 17), (1, 64, 7, 9), (1, 32, 4, 5)]
    """

    arch_settings = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3),
                     19: (2, 2, 4, 4, 4)}

    def __init__(self, depth: int = 16, in_channels: int = 3, base_channels: int = 64,
                 num_stages: int = 5, out_indices: Sequence[int] = (0, 1, 2, 3, 4),
                 first_conv_padding: int = 1, ceil_mode: bool = True,
                 fc_channels: Optional[int] = None, fc6_kernel_size: int = 7,
                 fc6_padding: int = 0, fc_dropout: float = 0.5, return_input: bool = False,
                 input_norm_cfg: Optional[dict] = None, norm_cfg: OptConfigType = None,
                 norm_eval: bool = False, pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        if depth not in self.arch_settings:
            raise KeyError(f'backbone.depth={depth!r} is not a VGG depth; expected one of '
                           f'{sorted(self.arch_settings)}')
        super().__init__(_resolve_init_cfg(pretrained, init_cfg))
        self._check_args(num_stages, out_indices, fc_channels, input_norm_cfg)
        check_norm_cfg(norm_cfg, 'backbone.norm_cfg')
        self.depth, self.num_stages = depth, num_stages
        self.stage_blocks = self.arch_settings[depth][:num_stages]
        self.out_indices = tuple(out_indices)
        self.with_norm, self.with_fc = norm_cfg is not None, fc_channels is not None
        self.norm_eval, self.return_input = norm_eval, return_input
        self.input_norm_cfg = input_norm_cfg
        self.stage_channels = tuple(base_channels * 2**min(i, 3) for i in range(num_stages))
        self.stage_layers: List[List[str]] = []
        channels = in_channels
        for stage, (num_convs, width) in enumerate(
                zip(self.stage_blocks, self.stage_channels), start=1):
            names = []
            for conv in range(1, num_convs + 1):
                padding = first_conv_padding if (stage, conv) == (1, 1) else 1
                names += self._add_conv(f'{stage}_{conv}', channels, width, padding,
                                        norm_cfg)
                channels = width
            self.add_module(f'pool{stage}', nn.MaxPool2d(2, stride=2, ceil_mode=ceil_mode))
            self.stage_layers.append(names + [f'pool{stage}'])
        if self.with_fc:
            self.fc6 = nn.Conv2d(channels, fc_channels, fc6_kernel_size, padding=fc6_padding)
            self.relu6, self.drop6 = nn.ReLU(inplace=True), nn.Dropout(fc_dropout)
            self.fc7 = nn.Conv2d(fc_channels, fc_channels, 1)
            self.relu7, self.drop7 = nn.ReLU(inplace=True), nn.Dropout(fc_dropout)
        out = [*self.stage_channels, fc_channels]
        self.out_channels: Tuple[int, ...] = (
            ((in_channels,) if return_input else ()) + tuple(out[i] for i in self.out_indices))
        self.register_load_state_dict_pre_hook(self._accept_torchvision_layout)

    def _add_conv(self, suffix: str, in_channels: int, out_channels: int, padding: int,
                  norm_cfg: OptConfigType) -> List[str]:
        """Add conv (+ bn) + relu ``{kind}{suffix}``; return their names in order."""
        # convs keep their bias even before BN: torchvision's vgg*_bn weights have one
        self.add_module(f'conv{suffix}', nn.Conv2d(in_channels, out_channels, 3,
                                                   padding=padding))
        names = [f'conv{suffix}']
        if norm_cfg is not None:
            self.add_module(f'bn{suffix}', build_norm_layer(norm_cfg, out_channels)[1])
            names.append(f'bn{suffix}')
        self.add_module(f'relu{suffix}', nn.ReLU(inplace=True))
        return names + [f'relu{suffix}']

    @staticmethod
    def _check_args(num_stages, out_indices, fc_channels, input_norm_cfg) -> None:
        if not isinstance(num_stages, int) or not 1 <= num_stages <= 5:
            raise ValueError(f'backbone.num_stages must be 1..5, got {num_stages!r}')
        top = num_stages if fc_channels is not None else num_stages - 1
        if (not out_indices or len(set(out_indices)) != len(out_indices)
                or any(not 0 <= i <= top for i in out_indices)
                or list(out_indices) != sorted(out_indices)):
            fc = f', {num_stages} = fc7' if fc_channels is not None else \
                ' (set fc_channels for the fc7 output)'
            raise ValueError(f'backbone.out_indices must be increasing, distinct indices in '
                             f'0..{top} (pooled stages{fc}), got {tuple(out_indices)!r}')
        if input_norm_cfg is not None and (
                not isinstance(input_norm_cfg, dict)
                or set(input_norm_cfg) - {'mean', 'std', 'bgr'}
                or not {'mean', 'std'} <= set(input_norm_cfg)):
            raise ValueError('backbone.input_norm_cfg must be dict(mean=[3 values], '
                             f'std=[3 values], bgr=bool), got {input_norm_cfg!r}')

    @staticmethod
    def _accept_torchvision_layout(module: 'VGG', state_dict: dict, prefix: str,
                                   *args) -> None:
        """``load_state_dict`` pre-hook: rename torchvision keys; adapt conv1_1 if asked."""
        renamed = rename_torchvision_vgg_keys(state_dict, prefix, module)
        if not renamed:
            return
        print_log(f'VGG: renamed {len(renamed)} weights of the torchvision layout, e.g. '
                  f'{renamed[0][0]} -> {renamed[0][1]}', logger='current')
        weight_key = f'{prefix}conv1_1.weight'
        if module.input_norm_cfg is None or weight_key not in state_dict:
            return
        cfg = module.input_norm_cfg
        bias_key = f'{prefix}conv1_1.bias'
        state_dict[weight_key], state_dict[bias_key] = adapt_first_conv(
            state_dict[weight_key], state_dict.get(bias_key), cfg['mean'], cfg['std'],
            bool(cfg.get('bgr', False)))
        print_log(f'VGG: adapted conv1_1 of the torchvision weights to inputs '
                  f'normalised by {cfg}', logger='current')

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Run the stages (and fc6/fc7) up to the last requested output.

        Args:
            x (Tensor): (N, in_channels, H, W).

        Returns:
            tuple[Tensor]: ``x`` itself first with ``return_input``, then one map per
            out index: (N, stage_channels[i], ~H / 2**(i+1), ~W / 2**(i+1)) for a
            stage (rounded as the pools and paddings give), (N, fc_channels, h, w) for fc7.
        """
        outs = [x] if self.return_input else []
        last = max(self.out_indices)
        for index, names in enumerate(self.stage_layers[:last + 1]):
            for name in names:
                x = getattr(self, name)(x)
            if index in self.out_indices:
                outs.append(x)
        if last == self.num_stages:
            x = self.drop6(self.relu6(self.fc6(x)))
            outs.append(self.drop7(self.relu7(self.fc7(x))))
        return tuple(outs)

    def train(self, mode: bool = True) -> 'VGG':
        """Switch mode; with ``norm_eval`` every BN layer stays in eval mode."""
        super().train(mode)
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
