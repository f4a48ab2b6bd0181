"""Convert a torchvision ResNet state dict into fcn_mm's ``ResNet`` (V1b) layout.

Usage::

    python tools/model_converters/torchvision2fcnmm.py SRC DST [--plain]

``SRC`` is a torchvision ``resnet*``/``resnext*``/``wide_resnet*`` weights file (e.g.
``~/.cache/torch/hub/checkpoints/resnet50-11ad3fa6.pth``; a ``{'state_dict': ...}``
wrapper is accepted). ``DST`` is written as ``{'meta': {...}, 'state_dict': {...}}``,
the way mmengine saves checkpoints (``--plain``: the bare state dict); both load
into ``ResNet(depth=..., deep_stem=False)`` (7x7 stem, the V1b layout) with
``init_cfg=dict(type='Pretrained', checkpoint=DST)`` or ``load_checkpoint``.

The two layouts name their tensors alike (``conv1``, ``bn1``, ``layer{1-4}.{i}.conv{1-3}``,
``.bn{1-3}``, ``.downsample.{0,1}``), so the mapping keeps those names, drops the
classifier (``fc.*``) and refuses any other key. The ``V1c``/``V1d`` deep stems
(``stem.*``) have no torchvision counterpart. Nothing is downloaded.
"""
import argparse
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Sequence

import torch

from fcn_mm.utils.safe_loading import load_state_dict_file

_NORM = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
_KEPT = re.compile(
    rf'^(conv1\.weight|bn1\.{_NORM}'
    rf'|layer[1-4]\.\d+\.(conv[1-3]\.weight|bn[1-3]\.{_NORM}'
    rf'|downsample\.0\.weight|downsample\.1\.{_NORM}))$')
_DROPPED = re.compile(r'^fc\.(weight|bias)$')


def torchvision_to_fcnmm_key(key: str) -> Optional[str]:
    """Name in fcn_mm's ResNet of one torchvision ResNet key; None for the classifier.

    Args:
        key (str): e.g. ``'layer1.0.downsample.1.running_var'`` or ``'fc.weight'``.

    Returns:
        str | None: the fcn_mm key (same text for backbone tensors), None for ``fc.*``.

    Raises:
        KeyError: ``key`` is not part of a torchvision ResNet.
    """
    if _DROPPED.match(key):
        return None
    if _KEPT.match(key):
        return key
    raise KeyError(f'{key!r} is not a torchvision ResNet key (expected conv1, bn1, '
                   'layer1-4.<i>.conv/bn/downsample or fc)')


def convert_torchvision_resnet(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map a torchvision ResNet state dict onto fcn_mm's ``ResNet(deep_stem=False)``.

    Args:
        state_dict (Mapping[str, Tensor]): torchvision keys and tensors.

    Returns:
        dict[str, Tensor]: fcn_mm backbone keys (no ``backbone.`` prefix), in order.

    Raises:
        KeyError: some keys do not belong to a torchvision ResNet (all are listed).
    """
    converted, unknown = OrderedDict(), []
    for key, value in state_dict.items():
        try:
            new_key = torchvision_to_fcnmm_key(key)
        except KeyError:
            unknown.append(key)
            continue
        if new_key is not None:
            converted[new_key] = value
    if unknown:
        raise KeyError(f'{len(unknown)} keys are not torchvision ResNet keys: {unknown[:10]}')
    if 'conv1.weight' not in converted:
        raise KeyError('no conv1.weight: this is not a torchvision ResNet state dict')
    return converted


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Convert torchvision ResNet weights to fcn_mm's ResNet (V1b) layout")
    parser.add_argument('src', help='torchvision weights file')
    parser.add_argument('dst', help='output file')
    parser.add_argument('--plain', action='store_true',
                        help="save the bare state dict instead of {'meta', 'state_dict'}")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if not osp.isfile(osp.expanduser(args.src)):
        raise FileNotFoundError(f'SRC {args.src!r} is not a file')
    state_dict = convert_torchvision_resnet(load_state_dict_file(osp.expanduser(args.src)))
    meta = dict(converted_from=osp.basename(args.src), converter='torchvision2fcnmm',
                layout='ResNet(deep_stem=False)')
    torch.save(state_dict if args.plain else dict(meta=meta, state_dict=state_dict),
               osp.expanduser(args.dst))
    print(f'saved {len(state_dict)} tensors to {args.dst}')


if __name__ == '__main__':
    main(sys.argv[1:])
