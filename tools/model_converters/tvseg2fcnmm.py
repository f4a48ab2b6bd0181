"""Convert torchvision's segmentation FCN (``fcn_resnet50`` / ``fcn_resnet101``) to fcn_mm.

Usage::

    python tools/model_converters/tvseg2fcnmm.py SRC DST

``SRC`` is the state dict of ``torchvision.models.segmentation.fcn_resnet50/101``
(e.g. torchvision's ``fcn_resnet50_coco-1167a1af.pth``; a ``{'state_dict': ...}``
wrapper is accepted), read with fcn_mm's safe loader (``weights_only=True``). Its
keys and shapes are checked against torchvision's own model of that depth (built
on the meta device, so nothing is allocated or downloaded). ``DST`` is
``{'meta': {...}, 'state_dict': {...}}`` for
``configs/fcn/fcn_tvseg-r{50,101}-d8_480x480_voc.py``, which loads it with
``strict=True``. The mapping:

- ``backbone.*`` -> ``backbone.*`` (``TorchvisionBackbone`` keeps torchvision's names);
- ``classifier.0`` (3x3 conv) -> ``decode_head.convs.0.conv``, ``classifier.1`` (BN)
  -> ``decode_head.convs.0.bn``, ``classifier.4`` (1x1 conv) -> ``decode_head.conv_seg``;
- ``aux_classifier.{0,1,4}`` -> ``auxiliary_head.{convs.0.conv, convs.0.bn, conv_seg}``.

A model built with ``aux_loss=False`` has no ``aux_classifier``: it converts without
the auxiliary head, and the config then needs ``--cfg-options model.auxiliary_head=None``.
"""
import argparse
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
from torchvision.models import segmentation

from fcn_mm.utils.safe_loading import load_state_dict_file

_HEAD_KEY = re.compile(r'(classifier|aux_classifier)\.([014])\.(.+)')
_HEADS = {'classifier': 'decode_head', 'aux_classifier': 'auxiliary_head'}
_LAYERS = {'0': 'convs.0.conv', '1': 'convs.0.bn', '4': 'conv_seg'}
_LAYER3_BLOCKS = {6: 50, 23: 101}  # blocks in layer3 -> ResNet depth


def fcnmm_key(key: str) -> str:
    """fcn_mm's name of one torchvision segmentation-FCN key.

    Args:
        key (str): e.g. ``'backbone.layer1.0.conv1.weight'``, ``'classifier.4.bias'``.

    Returns:
        str: e.g. ``'backbone.layer1.0.conv1.weight'``, ``'decode_head.conv_seg.bias'``.

    Raises:
        KeyError: ``key`` is neither a backbone nor a (aux_)classifier key.
    """
    if key.startswith('backbone.'):
        return key
    match = _HEAD_KEY.fullmatch(key)
    if match is None:
        raise KeyError(f'{key!r} is not a key of a torchvision segmentation FCN '
                       '(expected backbone.*, classifier.{0,1,4}.*, aux_classifier.{0,1,4}.*)')
    head, layer, rest = match.groups()
    return f'{_HEADS[head]}.{_LAYERS[layer]}.{rest}'


def _depth(state_dict: Mapping[str, torch.Tensor], src: str) -> int:
    blocks = {int(m.group(1)) for k in state_dict
              for m in [re.match(r'backbone\.layer3\.(\d+)\.', k)] if m}
    count = max(blocks) + 1 if blocks else 0
    if count not in _LAYER3_BLOCKS:
        sample = sorted(state_dict)[:5]
        raise KeyError(f'{src} is not a torchvision fcn_resnet50/101 state dict: it has '
                       f'{count} backbone.layer3 blocks (expected 6 or 23; its keys start '
                       f'{sample})')
    return _LAYER3_BLOCKS[count]


def expected_shapes(depth: int, num_classes: int,
                    aux: bool = True) -> Dict[str, Tuple[int, ...]]:
    """Keys and shapes of torchvision's ``fcn_resnet{depth}`` (built on the meta device).

    Args:
        depth (int): 50 or 101.
        num_classes (int): classes of the classifier.
        aux (bool): with the auxiliary classifier. Defaults to True.

    Returns:
        dict[str, tuple[int, ...]]: every state-dict key with its shape.
    """
    builder = getattr(segmentation, f'fcn_resnet{depth}')
    with torch.device('meta'):
        model = builder(weights=None, weights_backbone=None, aux_loss=aux,
                        num_classes=num_classes)
    return OrderedDict((k, tuple(v.shape)) for k, v in model.state_dict().items())


def convert_tvseg_fcn(state_dict: Mapping[str, torch.Tensor], src: str = 'SRC'
                      ) -> Tuple[int, bool, Dict[str, torch.Tensor]]:
    """Check a torchvision segmentation-FCN state dict and map it to fcn_mm's keys.

    Args:
        state_dict (Mapping[str, Tensor]): torchvision keys -> tensors.
        src (str): the file name, for the messages.

    Returns:
        tuple: (depth, whether the auxiliary head is there, the fcn_mm state dict).

    Raises:
        KeyError: not such a model, or unknown / missing keys (listed).
        ValueError: tensors of the wrong shape (listed with the expected shapes).
    """
    depth = _depth(state_dict, src)
    if 'classifier.4.weight' not in state_dict:
        raise KeyError(f'{src} has no classifier.4.weight: not a torchvision segmentation '
                       'FCN (its head is classifier.0/1/4)')
    num_classes = int(state_dict['classifier.4.weight'].shape[0])
    aux = any(k.startswith('aux_classifier.') for k in state_dict)
    shapes = expected_shapes(depth, num_classes, aux)
    what = f'torchvision fcn_resnet{depth} ({num_classes} classes, aux_loss={aux})'
    unknown = [k for k in state_dict if k not in shapes]
    missing = [k for k in shapes if k not in state_dict]
    if unknown or missing:
        raise KeyError(f'{src} does not fit {what}: {len(unknown)} unknown keys '
                       f'{unknown[:8]}, {len(missing)} missing keys {missing[:8]}')
    wrong = [f'{k} is a {type(state_dict[k]).__name__}, not a tensor'
             if not isinstance(state_dict[k], torch.Tensor) else
             f'{k} has shape {tuple(state_dict[k].shape)}, expected {s}'
             for k, s in shapes.items()
             if not isinstance(state_dict[k], torch.Tensor) or tuple(state_dict[k].shape) != s]
    if wrong:
        raise ValueError(f'{src} does not fit {what}: ' + '; '.join(wrong[:8]))
    return depth, aux, OrderedDict((fcnmm_key(k), v) for k, v in state_dict.items())


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Convert torchvision's fcn_resnet50/101 weights to fcn_mm")
    parser.add_argument('src', help='torchvision segmentation FCN state dict')
    parser.add_argument('dst', help='output fcn_mm checkpoint')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    src = osp.expanduser(args.src)
    if not osp.isfile(src):
        raise FileNotFoundError(f'SRC {args.src!r} is not a file')
    depth, aux, state_dict = convert_tvseg_fcn(load_state_dict_file(src), args.src)
    meta = dict(converted_from=osp.basename(src), converter='tvseg2fcnmm',
                layout=f'torchvision fcn_resnet{depth}')
    torch.save(dict(meta=meta, state_dict=state_dict), osp.expanduser(args.dst))
    note = '' if aux else ('; it has no auxiliary head: add --cfg-options '
                           'model.auxiliary_head=None')
    print(f'fcn_resnet{depth}: saved {len(state_dict)} tensors to {args.dst}; test it with '
          f'configs/fcn/fcn_tvseg-r{depth}-d8_480x480_voc.py{note}')
    return depth


if __name__ == '__main__':
    main(sys.argv[1:])
