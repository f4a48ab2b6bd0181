"""Accept torchvision VGG weights (``features.N.*``, ``classifier.N.*``) in fcn_mm's VGG.

torchvision's ``vgg16`` / ``vgg16_bn`` number the layers of one ``nn.Sequential``
(``features.0`` conv, ``features.1`` ReLU, ..., ``features.4`` max-pool); fcn_mm's
:class:`~fcn_mm.models.backbones.VGG` names them as the FCN paper's Caffe nets do
(``conv1_1``, ``bn1_1`` for the BN variant, ``conv1_2`` ...). The fully connected
``classifier.0`` (Linear 25088 -> 4096) and ``classifier.3`` (4096 -> 4096) become the
convolutions ``fc6`` (4096, 512, 7, 7) and ``fc7`` (4096, 4096, 1, 1): a reshape,
because torchvision flattens the (512, 7, 7) map channel-first. The 1000-class
``classifier.6`` has no counterpart and stays an unexpected key.

:func:`rename_torchvision_vgg_keys` does this in place; the VGG backbone runs it as a
``load_state_dict`` pre-hook, so ``pretrained='torchvision://vgg16'``, ``init_cfg`` and
``load_checkpoint`` all accept the file. fcn_mm's own keys never start with
``features.`` or ``classifier.``, so they are never touched.

:func:`adapt_first_conv` rewrites ``conv1_1`` for inputs normalised differently from
torchvision's (RGB, ``/255``, ImageNet mean/std), e.g. the Caffe convention of the
FCN paper (BGR, minus a mean, not scaled).
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

__all__ = ['TORCHVISION_MEAN', 'TORCHVISION_STD', 'torchvision_feature_names',
           'rename_torchvision_vgg_keys', 'adapt_first_conv']

TORCHVISION_MEAN = (0.485, 0.456, 0.406)
TORCHVISION_STD = (0.229, 0.224, 0.225)

_FEATURE_KEY = re.compile(r'features\.(\d+)\.(.+)')
_CLASSIFIER_KEY = re.compile(r'classifier\.([03])\.(weight|bias)')


def torchvision_feature_names(stage_blocks: Sequence[int], with_norm: bool) -> Dict[int, str]:
    """Index in torchvision's ``features`` -> fcn_mm layer name, for layers with weights.

    torchvision builds conv (+ BN) + ReLU per conv and one max-pool per stage.

    Args:
        stage_blocks (Sequence[int]): convs per stage, e.g. (2, 2, 3, 3, 3) for VGG16.
        with_norm (bool): whether each conv is followed by a BN layer.

    Returns:
        dict[int, str]: e.g. ``{0: 'conv1_1', 2: 'conv1_2', 5: 'conv2_1', ...}``.
    """
    names, index = {}, 0
    for stage, num_convs in enumerate(stage_blocks, start=1):
        for conv in range(1, num_convs + 1):
            names[index] = f'conv{stage}_{conv}'
            if with_norm:
                names[index + 1] = f'bn{stage}_{conv}'
            index += 3 if with_norm else 2
        index += 1  # the max-pool
    return names


def _fc_value(key: str, value: torch.Tensor, target: nn.Module, name: str) -> torch.Tensor:
    """A Linear weight/bias reshaped to the conv ``target`` (raises when it cannot)."""
    param = getattr(target, key.rsplit('.', 1)[1])
    if value.numel() != param.numel():
        raise ValueError(
            f'{key} of torchvision shape {tuple(value.shape)} cannot become {name} of shape '
            f'{tuple(param.shape)}: torchvision VGG weights need fc_channels=4096, '
            'fc6_kernel_size=7 and base_channels=64 in the VGG backbone')
    return value.reshape(param.shape)


def rename_torchvision_vgg_keys(state_dict: Dict[str, torch.Tensor], prefix: str,
                                backbone: nn.Module) -> List[Tuple[str, str]]:
    """Rename, in place, torchvision-layout keys of ``backbone`` under ``prefix``.

    Args:
        state_dict (dict): the state dict being loaded (modified in place).
        prefix (str): the backbone's prefix in it (``''`` or e.g. ``'backbone.'``).
        backbone (nn.Module): a :class:`~fcn_mm.models.backbones.VGG`; its
            ``stage_blocks``, ``with_norm`` and ``fc6``/``fc7`` decide the mapping.

    Returns:
        list[tuple[str, str]]: the (old, new) key pairs, in the order renamed.
    """
    names = torchvision_feature_names(backbone.stage_blocks, backbone.with_norm)
    fc_names = {'0': 'fc6', '3': 'fc7'} if backbone.with_fc else {}
    renames, values = [], []
    for key in list(state_dict):
        if not key.startswith(prefix):
            continue
        local = key[len(prefix):]
        feature = _FEATURE_KEY.fullmatch(local)
        if feature is not None and int(feature.group(1)) in names:
            renames.append((key, f'{prefix}{names[int(feature.group(1))]}.'
                                 f'{feature.group(2)}'))
            values.append(state_dict[key])
            continue
        fc = _CLASSIFIER_KEY.fullmatch(local)
        if fc is not None and fc.group(1) in fc_names:
            name = fc_names[fc.group(1)]
            renames.append((key, f'{prefix}{name}.{fc.group(2)}'))
            values.append(_fc_value(local, state_dict[key], getattr(backbone, name), name))
    for old, _ in renames:
        del state_dict[old]
    for (_, new), value in zip(renames, values):
        state_dict[new] = value
    return renames


def adapt_first_conv(weight: torch.Tensor, bias: Optional[torch.Tensor],
                     mean: Sequence[float], std: Sequence[float],
                     bgr: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """Rewrite torchvision's first conv for inputs ``(image - mean) / std`` in 0..255.

    torchvision's conv sees ``x_tv[c] = (I_rgb[c] / 255 - m[c]) / s[c]``; the network
    here sees ``x[k] = (I[k] - mean[k]) / std[k]`` with ``I`` in BGR order when
    ``bgr``. Both are affine in the image, so ``W' x + b' = W x_tv + b`` holds exactly
    wherever the kernel covers no padding (at the border the zero padding of ``x``
    and of ``x_tv`` stand for slightly different colours: ``mean`` and ``255 * m``).

    Args:
        weight (Tensor): (C_out, 3, k, k) torchvision weight.
        bias (Tensor, optional): (C_out,) torchvision bias.
        mean (Sequence[float]): the 3 per-channel means of the inputs (0..255 scale).
        std (Sequence[float]): the 3 per-channel stds of the inputs.
        bgr (bool): whether the inputs are in BGR order (torchvision's are RGB).

    Returns:
        tuple[Tensor, Tensor]: the new weight (C_out, 3, k, k) and bias (C_out,).
    """
    if weight.shape[1] != 3 or len(mean) != 3 or len(std) != 3:
        raise ValueError(f'adapting the first conv needs 3 input channels and 3 mean/std '
                         f'values, got weight {tuple(weight.shape)}, mean {list(mean)}, '
                         f'std {list(std)}')
    order = [2, 1, 0] if bgr else [0, 1, 2]  # torchvision (RGB) channel of input channel k
    tv_mean = torch.tensor([TORCHVISION_MEAN[c] for c in order], dtype=torch.float64)
    tv_std = torch.tensor([TORCHVISION_STD[c] for c in order], dtype=torch.float64)
    mean = torch.tensor(mean, dtype=torch.float64)
    std = torch.tensor(std, dtype=torch.float64)
    weight64 = weight.double()[:, order]
    new_weight = weight64 * (std / (255 * tv_std))[None, :, None, None]
    shift = (mean - 255 * tv_mean) / (255 * tv_std)
    new_bias = (weight64.sum(dim=(2, 3)) * shift[None]).sum(dim=1)
    if bias is not None:
        new_bias = new_bias + bias.double()
    return new_weight.to(weight.dtype), new_bias.to(weight.dtype)
