"""TorchvisionBackbone: torchvision classification networks as dense-prediction backbones."""
import difflib
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torchvision
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from fcn_mm.registry import MODELS
from fcn_mm.utils.pretrained import fetch_command
from fcn_mm.utils.safe_loading import load_checkpoint_file
from fcn_mm.utils.typing_utils import OptMultiConfig

__all__ = ['TorchvisionBackbone', 'supported_torchvision_models']

# family: (model-name pattern, kept children in forward order, dropped classifier children)
_FAMILIES: Dict[str, Tuple[str, Tuple[str, ...], Tuple[str, ...]]] = {
    'resnet': (r'(resnet|resnext|wide_resnet)\d',
               ('conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3', 'layer4'),
               ('avgpool', 'fc')),
    'regnet': (r'regnet_[xy]_', ('stem', 'trunk_output'), ('avgpool', 'fc')),
    'features': (r'(mobilenet_v[23]|efficientnet_|convnext_)', ('features',),
                 ('avgpool', 'classifier')),
}
_STAGE_STRIDES = (4, 8, 16, 32)


def _family(model_name: str) -> Optional[str]:
    return next((family for family, (pattern, _, _) in _FAMILIES.items()
                 if re.match(pattern, model_name)), None)


def supported_torchvision_models() -> List[str]:
    """Names of the torchvision classification models TorchvisionBackbone can wrap."""
    names = torchvision.models.list_models(module=torchvision.models)
    return sorted(n for n in names if _family(n) is not None)


def _check_model_name(model_name: str) -> str:
    if not isinstance(model_name, str):
        raise TypeError(f'backbone.model_name must be a str, got {model_name!r}')
    supported = supported_torchvision_models()
    if model_name in supported:
        return _family(model_name)
    close = difflib.get_close_matches(str(model_name), supported, n=5, cutoff=0.5)
    hint = f'did you mean {close}? ' if close else ''
    if model_name in torchvision.models.list_models(module=torchvision.models):
        why = 'is a torchvision model of a family TorchvisionBackbone does not support'
    else:
        why = 'is not a torchvision classification model'
    raise ValueError(f'backbone.model_name={model_name!r} {why}; {hint}'
                     'supported: resnet*, resnext*, wide_resnet*, regnet_*, mobilenet_v2, '
                     'mobilenet_v3_large/small, efficientnet_*, convnext_* '
                     f'({len(supported)} names)')


def _conv_like(module: nn.Module) -> bool:
    return isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))


def _pair(value) -> Tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _unit_stride(unit: nn.Module) -> int:
    """Stride of a unit without parallel strided paths (a features-style block or stage)."""
    stride = 1
    for module in unit.modules():
        if _conv_like(module):
            stride *= _pair(module.stride)[0]
    return stride


def _last_channels(unit: nn.Module) -> int:
    """Channels a unit outputs: its last norm, linear or conv layer (in registration order)."""
    for module in reversed(list(unit.modules())):
        if isinstance(module, _BatchNorm):
            return module.num_features
        if isinstance(module, nn.LayerNorm):
            return module.normalized_shape[-1]
        if isinstance(module, nn.Linear):
            return module.out_features
        if isinstance(module, nn.Conv2d):
            return module.out_channels
    raise ValueError(f'cannot infer the output channels of {type(unit).__name__}')


def dilate_stage(units: Sequence[Tuple[str, nn.Module]], rate: int) -> int:
    """Turn one stage's stride-2 step into dilation, in place (DeepLab style).

    The strided spatial conv keeps the incoming ``rate`` (as torchvision's ResNet and
    MMSeg's ``contract_dilation`` do); every later conv of the stage uses ``rate * 2``;
    padding becomes ``dilation * (k - 1) // 2``, so feature sizes stay those of the
    previous stage.

    Args:
        units (Sequence[tuple[str, nn.Module]]): named modules of one stage, in order.
        rate (int): dilation in effect before this stage.

    Returns:
        int: the dilation in effect after this stage.
    """
    convs = [(f'{prefix}.{n}'.rstrip('.'), m) for prefix, unit in units
             for n, m in unit.named_modules() if _conv_like(m)]
    strided = [m for _, m in convs if max(_pair(m.stride)) > 1]
    for name, module in convs:
        if module in strided and not (isinstance(module, nn.Conv2d)
                                      and all(k % 2 for k in _pair(module.kernel_size))):
            raise ValueError(
                f'backbone.output_stride: {name} downsamples with {module}; only odd-kernel '
                'convolutions can become dilated (not pooling or patchify layers): use 32')
    if not strided:
        return rate
    new_rate = rate * max(_pair(strided[0].stride))
    spatial = [m for m in strided if max(_pair(m.kernel_size)) > 1]
    switch = spatial[0] if spatial else strided[0]
    current = rate
    for _, module in convs:
        kernel = _pair(module.kernel_size)
        if module in strided:
            module.stride = (1, 1)
        if max(kernel) > 1 and isinstance(module, nn.Conv2d):
            module.dilation = (current, current)
            module.padding = tuple(current * (k - 1) // 2 for k in kernel)
        if module is switch:
            current = new_rate
    return new_rate


def resolve_weights_file(model_name: str, weights: str) -> str:
    """Find a local torchvision weights file; never downloads.

    Args:
        model_name (str): torchvision model name, e.g. ``'resnet50'``.
        weights (str): a file; or a folder (e.g. torchvision's cache,
            ``~/.cache/torch/hub/checkpoints``) where the file is looked up by the name
            torchvision downloads it under (``resnet50-11ad3fa6.pth``), the default weights
            first; or a weights name (``'DEFAULT'``, ``'IMAGENET1K_V1'``, ...) looked up in
            ``torch.hub.get_dir()/checkpoints``.

    Returns:
        str: path of an existing file.
    """
    path = os.path.expanduser(str(weights))
    if os.path.isfile(path):
        return path
    enum = torchvision.models.get_model_weights(model_name)
    candidates = [enum.DEFAULT] + [w for w in enum if w is not enum.DEFAULT]
    if os.path.isdir(path):
        folder = path
    elif weights in enum.__members__:
        folder = os.path.join(torch.hub.get_dir(), 'checkpoints')
        candidates = [enum[weights]]
    else:
        raise FileNotFoundError(
            f'backbone.weights={weights!r} is neither a file, a folder, nor a weights name of '
            f'{model_name} ({sorted(enum.__members__)})')
    names = [os.path.basename(w.url) for w in candidates]
    for name in names:
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    target = os.path.join(folder, names[0])
    raise FileNotFoundError(
        f'backbone.weights={weights!r}: found none of {names} (torchvision\'s file names for '
        f'{model_name}) in {folder}; fcn_mm never downloads weights. Download '
        f'{candidates[0].url} to {target}, e.g. with:\n'
        f'    {fetch_command(candidates[0].url, target)}')


def _read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    checkpoint = load_checkpoint_file(path, map_location='cpu')
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get('state_dict'), dict):
        checkpoint = checkpoint['state_dict']  # mmengine-style wrapper
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{path}: expected a state dict, got {type(checkpoint).__name__}')
    return checkpoint


def _build_model(model_name: str, output_stride: int, kwargs: dict) -> Tuple[nn.Module, bool]:
    """The torchvision model (no weights) and whether it already has the output stride."""
    torchvision_dilates = re.match(r'(resnet(50|101|152)|resnext|wide_resnet)', model_name)
    if torchvision_dilates:  # Bottleneck ResNets; BasicBlock refuses dilation
        kwargs['replace_stride_with_dilation'] = [False, output_stride <= 8,
                                                  output_stride <= 16]
    model = torchvision.models.get_model(model_name, weights=None, **kwargs)
    return model, bool(torchvision_dilates) or output_stride == 32


@MODELS.register_module()
class TorchvisionBackbone(BaseModule):
    """A torchvision classification network as a backbone returning stage features.

    Builds ``torchvision.models.<model_name>(weights=None)`` (never downloads), drops
    pooling and classifier and returns, like :class:`ResNet`, the maps of the requested
    stages. A stage is the last block at each stride (4, 8, 16, 32); ``out_indices``
    and ``frozen_stages`` count those. The stem is ``conv1/bn1/relu/maxpool`` (ResNet),
    ``stem`` (RegNet) or ``features.0``. Modules keep torchvision's names, so a
    torchvision state dict also loads through ``init_cfg=dict(type='Pretrained')``.

    Output stride 16 or 8 turns the stride of the last one or two stages into dilation:
    torchvision's ``replace_stride_with_dilation`` for Bottleneck ResNet/ResNeXt/Wide
    ResNet, :func:`dilate_stage` (same rule) for resnet18/34, MobileNetV2/V3,
    EfficientNet and RegNet. ConvNeXt supports only 32 (its 2x2 stride-2 patchify
    convolutions cannot become dilated); asking for 8 or 16 raises ValueError.

    Norm layers are torchvision's (BatchNorm2d; LayerNorm in ConvNeXt, which
    ``norm_eval`` leaves alone) whatever the heads' ``norm_cfg``; for SyncBN in
    distributed runs set ``sync_bn='torch'`` in the config (mmengine's Runner converts).
    Inputs: RGB normalised with ImageNet mean/std, as ``SegDataPreProcessor`` does with
    MMSeg's values.

    Args:
        model_name (str): torchvision builder name, e.g. ``'resnet50'``,
            ``'mobilenet_v3_large'``, ``'convnext_tiny'``.
        weights (str, optional): a local torchvision weights file, a folder holding
            it under torchvision's file name (torchvision's cache,
            ``~/.cache/torch/hub/checkpoints``), or a weights name such as
            ``'DEFAULT'`` looked up in that cache; see :func:`resolve_weights_file`.
            Defaults to None (random initialisation).
        out_indices (Sequence[int]): stages to return, from 0..3. Defaults to (0, 1, 2, 3).
        output_stride (int): 8, 16 or 32. Defaults to 8.
        frozen_stages (int): -1 freezes nothing, 0 the stem, i the stem and stages
            0..i-1 (as ResNet). Defaults to -1.
        norm_eval (bool): keep BatchNorm layers in eval mode while training. Defaults to False.
        model_kwargs (dict, optional): extra keyword args for the torchvision builder,
            e.g. ``dict(width_mult=0.5)`` or ``dict(stochastic_depth_prob=0.0)``.
        pretrained (str, optional): the same as ``weights``; ``EncoderDecoder`` sets
            it from ``model.pretrained``. Setting both raises ValueError.
        init_cfg (dict | list[dict], optional): mmengine initialisation config.

    Shape:
        - Input: (N, 3, H, W).
        - Output: tuple of (N, out_channels[i], ceil(H / s), ceil(W / s)) with
          s = min(4 * 2**stage, output_stride); ConvNeXt's unpadded patchify layers
          give floor(H / s), floor(W / s) instead (480x480 -> 15x15 at stage 3).

    Example:
        >>> import torch
        >>> self = TorchvisionBackbone('resnet18', output_stride=8).eval()
        >>> outputs = self(torch.rand(1, 3, 64, 64))
        >>> for out in outputs:
        ...     print(tuple(out.shape))
        (1, 64, 16, 16)
        (1, 128, 8, 8)
        (1, 256, 8, 8)
        (1, 512, 8, 8)
    """

    def __init__(self,
                 model_name: str,
                 weights: Optional[str] = None,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 output_stride: int = 8,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 model_kwargs: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if pretrained is not None and weights is not None:
            raise ValueError(f'backbone.weights={weights!r} and model.pretrained='
                             f'{pretrained!r} are both set: keep one')
        weights = pretrained if weights is None else weights
        family = _check_model_name(model_name)
        self._check_args(model_name, out_indices, output_stride, frozen_stages, model_kwargs)
        self.model_name = model_name
        self.out_indices = tuple(sorted(out_indices))
        self.output_stride = output_stride
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        model, at_output_stride = _build_model(model_name, output_stride,
                                               dict(model_kwargs or {}))
        _, kept, self._dropped = _FAMILIES[family]
        for name in kept:
            self.add_module(name, getattr(model, name))
        self._units, self._stem_end, self._stage_ends = self._layout(family)
        if not at_output_stride:
            rate = 1
            for stage in range(_STAGE_STRIDES.index(output_stride) + 1, 4):
                rate = dilate_stage(self._stage_units(stage), rate)
        self.stage_channels = tuple(
            _last_channels(self.get_submodule(self._units[e])) for e in self._stage_ends)
        self.out_channels = tuple(self.stage_channels[i] for i in self.out_indices)
        if weights is not None:
            self.load_torchvision_weights(resolve_weights_file(model_name, weights))
        self._freeze_stages()

    @staticmethod
    def _check_args(model_name, out_indices, output_stride, frozen_stages, model_kwargs):
        if output_stride not in (8, 16, 32):
            raise ValueError(f'backbone.output_stride must be 8, 16 or 32, got {output_stride!r}')
        if model_name.startswith('convnext') and output_stride != 32:
            raise ValueError(
                f'backbone.output_stride={output_stride}: {model_name} supports only '
                'output_stride=32 (it downsamples with 2x2 stride-2 patchify convolutions, '
                'which dilation cannot replace)')
        if (not out_indices or len(set(out_indices)) != len(out_indices)
                or any(i not in (0, 1, 2, 3) for i in out_indices)):
            raise ValueError(f'backbone.out_indices must be distinct stages in 0..3, '
                             f'got {out_indices!r}')
        if frozen_stages not in (-1, 0, 1, 2, 3, 4):
            raise ValueError(f'backbone.frozen_stages must be in -1..4, got {frozen_stages!r}')
        if model_kwargs and {'weights', 'replace_stride_with_dilation'} & set(model_kwargs):
            raise ValueError('backbone.model_kwargs must not set weights or '
                             'replace_stride_with_dilation: use backbone.weights and '
                             'backbone.output_stride')

    def _layout(self, family: str) -> Tuple[List[str], int, List[int]]:
        """Forward units (module names), index of the last stem unit, stage-end indices."""
        if family == 'resnet':
            return list(_FAMILIES['resnet'][1]), 3, [4, 5, 6, 7]
        if family == 'regnet':
            return ['stem'] + [f'trunk_output.block{i}' for i in range(1, 5)], 0, [1, 2, 3, 4]
        units = [f'features.{i}' for i in range(len(self.features))]
        stride, strides = 1, []
        for unit in self.features:
            stride *= _unit_stride(unit)
            strides.append(stride)
        stage_ends = [max(i for i, s in enumerate(strides) if s == target)
                      for target in _STAGE_STRIDES]
        return units, 0, stage_ends

    def _stage_units(self, stage: int) -> List[Tuple[str, nn.Module]]:
        start = self._stem_end + 1 if stage == 0 else self._stage_ends[stage - 1] + 1
        names = self._units[start:self._stage_ends[stage] + 1]
        return [(name, self.get_submodule(name)) for name in names]

    def load_torchvision_weights(self, path: str) -> None:
        """Load a torchvision state dict file (classifier keys are ignored), strictly.

        Args:
            path (str): the file; a ``{'state_dict': ...}`` wrapper is accepted too.
        """
        state = {k: v for k, v in _read_state_dict(path).items()
                 if k.split('.', 1)[0] not in self._dropped}
        try:
            missing, unexpected = self.load_state_dict(state, strict=False)
        except RuntimeError as e:
            raise ValueError(f'{path}: the weights do not fit torchvision '
                             f'{self.model_name}') from e
        if missing or unexpected:
            raise ValueError(
                f'{path} does not hold torchvision {self.model_name} weights: '
                f'{len(missing)} missing keys (e.g. {missing[:3]}), {len(unexpected)} '
                f'unexpected keys (e.g. {unexpected[:3]})')

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = list(self._units[:self._stem_end + 1])
        for stage in range(self.frozen_stages):
            frozen += [name for name, _ in self._stage_units(stage)]
        for name in frozen:
            module = self.get_submodule(name)
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Run the stem and the stages up to the last requested one.

        Args:
            x (Tensor): (N, 3, H, W).

        Returns:
            tuple[Tensor]: one (N, C_i, H_i, W_i) map per entry of ``out_indices``.
        """
        wanted = {self._stage_ends[i] for i in self.out_indices}
        outs = []
        for index, name in enumerate(self._units[:max(wanted) + 1]):
            x = self.get_submodule(name)(x)
            if index in wanted:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> 'TorchvisionBackbone':
        """Set train mode, keeping frozen stages and (with ``norm_eval``) BN in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
