"""Build a segmentor's head so that its errors name the head's real config path.

A head does not know where it sits in the config: its errors and warnings say
``decode_head.num_convs ...``. :func:`build_head` builds it and rewrites that prefix to
the path the segmentor gives (``model.decode_head``, ``model.auxiliary_head``,
``model.auxiliary_head[1]``), keeping the exception type and chaining the original.
"""
import re
import warnings

from torch import nn

from fcn_mm.registry import MODELS

__all__ = ['build_head', 'at_config_path']

_HEAD_PREFIX = re.compile(r'(?<![\w.\[])decode_head\.')
_WARNED: dict = {}  # warnings registry: a repeated warning shows once, as from its module


def at_config_path(message: str, path: str) -> str:
    """``message`` with each ``decode_head.`` (not already part of a path) as ``path.``.

    Args:
        message (str): a head's error or warning text.
        path (str): the head's config path, e.g. ``model.auxiliary_head[1]``.
    """
    return _HEAD_PREFIX.sub(path.replace('\\', r'\\') + '.', message)


def build_head(cfg: dict, path: str) -> nn.Module:
    """``MODELS.build(cfg)``; its ValueError / TypeError and warnings name ``path``.

    Args:
        cfg (dict): the head config.
        path (str): its config path, e.g. ``model.auxiliary_head[1]``.

    Returns:
        nn.Module: the head.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            head = MODELS.build(cfg)
        except (ValueError, TypeError) as e:
            message = at_config_path(str(e), path)
            if message == str(e):
                raise
            raise type(e)(message) from e
    for warning in caught:
        warnings.warn_explicit(at_config_path(str(warning.message), path), warning.category,
                               warning.filename, warning.lineno, registry=_WARNED)
    return head
