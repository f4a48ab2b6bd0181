"""Conv-norm-activation helpers built on mmcv's layer builders.

``mmcv.cnn.ConvModule`` (children ``conv``, ``bn``/``gn``, ``activate``) is the
conv-norm-act unit of the heads. The ResNet stem is a plain ``nn.Sequential`` of
conv, norm and ReLU modules instead (keys ``stem.0``, ``stem.1``, ``stem.3`` ...),
kept that way for weight compatibility with MMSegmentation checkpoints.
"""
from typing import List, Optional

from mmcv.cnn import ConvModule, build_conv_layer, build_norm_layer
from torch import nn

__all__ = ['ConvModule', 'conv_norm_act_layers', 'check_norm_cfg']


def check_norm_cfg(norm_cfg: Optional[dict], key: str) -> None:
    """Raise a clear error when ``norm_cfg`` is not a dict with a ``type``.

    Args:
        norm_cfg (dict, optional): the norm config to check (None is allowed).
        key (str): the config key it came from, used in the message.
    """
    if norm_cfg is None:
        return
    if not isinstance(norm_cfg, dict) or 'type' not in norm_cfg:
        raise TypeError(f'{key} must be a dict with a "type" key (e.g. '
                        f"dict(type='BN', requires_grad=True)), got {norm_cfg!r}")


def conv_norm_act_layers(conv_cfg: Optional[dict],
                         norm_cfg: dict,
                         in_channels: int,
                         out_channels: int,
                         kernel_size: int = 3,
                         stride: int = 1,
                         padding: int = 1) -> List[nn.Module]:
    """Three plain modules: a bias-free conv, a norm layer and an in-place ReLU.

    Args:
        conv_cfg (dict, optional): conv layer config (None: ``nn.Conv2d``).
        norm_cfg (dict): norm layer config, e.g. ``dict(type='BN')``.
        in_channels (int): input channels.
        out_channels (int): output channels.
        kernel_size (int): conv kernel size. Defaults to 3.
        stride (int): conv stride. Defaults to 1.
        padding (int): conv padding. Defaults to 1.

    Returns:
        list[nn.Module]: ``[conv, norm, relu]``, to be unpacked into an
        ``nn.Sequential``. Shape: (N, in, H, W) -> (N, out, H', W').
    """
    conv = build_conv_layer(conv_cfg, in_channels, out_channels, kernel_size=kernel_size,
                            stride=stride, padding=padding, bias=False)
    norm = build_norm_layer(norm_cfg, out_channels)[1]
    return [conv, norm, nn.ReLU(inplace=True)]
