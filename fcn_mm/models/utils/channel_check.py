"""Build-time check that a head's ``in_channels`` fit the backbone's outputs."""
from typing import Sequence, Union

from torch import nn

__all__ = ['check_head_in_channels']


def _select(feat_channels: Sequence[int], index: int, key: str) -> int:
    try:
        return int(feat_channels[index])
    except IndexError as e:
        raise ValueError(
            f'{key.rsplit(".", 1)[0]}.in_index={index} is out of range: the backbone '
            f'returns {len(feat_channels)} feature maps with channels '
            f'{tuple(feat_channels)}') from e


def check_head_in_channels(head: nn.Module, feat_channels: Sequence[int], key: str) -> None:
    """Raise ValueError when ``head`` expects other channels than it will get.

    The head's configured ``in_channels`` (``head.input_channels`` for fcn_mm
    heads, else ``head.in_channels``) is compared with ``feat_channels`` picked by
    its ``in_index``: an int for ``input_transform=None``, one entry per index for
    ``'resize_concat'`` and ``'multiple_select'``.

    Args:
        head (nn.Module): a built decode or auxiliary head.
        feat_channels (Sequence[int]): channels of each feature map the backbone
            (or neck) returns, e.g. ``(256, 512, 1024, 2048)``.
        key (str): config path of the head's channels, e.g.
            ``'model.decode_head.in_channels'`` or ``'model.auxiliary_head[0].in_channels'``.

    Raises:
        ValueError: naming ``key``, the configured and the correct number.
    """
    configured: Union[int, Sequence[int], None] = getattr(
        head, 'input_channels', getattr(head, 'in_channels', None))
    in_index = getattr(head, 'in_index', -1)
    if configured is None:
        return
    if isinstance(configured, int) and isinstance(in_index, int):
        expected = _select(feat_channels, in_index, key)
        if configured != expected:
            raise ValueError(
                f'{key} is {configured}, but the feature map it reads (in_index='
                f'{in_index}) has {expected} channels (backbone.out_channels='
                f'{tuple(feat_channels)}): set {key}={expected}')
        return
    if isinstance(in_index, int) or isinstance(configured, int):
        raise ValueError(f'{key}={configured!r} and in_index={in_index!r} must both be '
                         'lists (with input_transform) or both ints (without)')
    expected_list = [_select(feat_channels, i, key) for i in in_index]
    if list(configured) != expected_list:
        raise ValueError(
            f'{key} is {list(configured)}, but the feature maps it reads (in_index='
            f'{list(in_index)}) have {expected_list} channels (backbone.out_channels='
            f'{tuple(feat_channels)}): set {key}={expected_list}')
