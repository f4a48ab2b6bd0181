"""Convert FCN-32s/16s/8s VGG16 weights in the Caffe layout into an fcn_mm checkpoint.

Usage::

    python tools/model_converters/fcn_caffe2fcnmm.py SRC DST

``SRC`` holds the weights under the layer names of the FCN paper's Caffe nets, as the
PyTorch ports of the released models do: ``conv1_1.weight`` ... ``conv5_3.bias``,
``fc6``, ``fc7``, ``score_fr``, then ``score_pool4`` and ``upscore2`` / ``upscore16``
(FCN-16s), ``score_pool4``, ``score_pool3``, ``upscore2``, ``upscore_pool4``,
``upscore8`` (FCN-8s), or ``upscore`` (FCN-32s). It is a plain ``{name: tensor}``
file, or one with the tensors under ``state_dict`` (or ``model_state_dict``); it is
read with fcn_mm's safe loader (``weights_only=True``). The variant is detected from
the keys; every key and shape is checked against that variant (widths follow
``conv1_1``, ``fc6`` and ``score_fr``, so narrow nets convert too).

``DST`` is ``{'meta': {...}, 'state_dict': {...}}``: ``conv*``/``fc*`` keys go under
``backbone.``, ``score*``/``upscore*`` under ``decode_head.``, with unchanged names.
``configs/fcn/fcn{32,16,8}s_vgg16_480x480_voc.py`` (Caffe-exact network, Caffe mean,
BGR) load it with ``strict=True``. Nothing is downloaded.
"""
import argparse
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch

from fcn_mm.utils.safe_loading import load_state_dict_file

_STAGES = (2, 2, 3, 3, 3)  # VGG16
_CONVS = [f'conv{s}_{i}' for s, n in enumerate(_STAGES, start=1) for i in range(1, n + 1)]
# (upsampler, stride) per variant, and the pool whose score layer each skip adds
_UPSAMPLERS = {'32s': (('upscore', 32),),
               '16s': (('upscore2', 2), ('upscore16', 16)),
               '8s': (('upscore2', 2), ('upscore_pool4', 2), ('upscore8', 8))}
_SKIPS = {'32s': (), '16s': (('score_pool4', 3),), '8s': (('score_pool4', 3),
                                                          ('score_pool3', 2))}
_LAST_UPSAMPLER = {'upscore8.weight': '8s', 'upscore16.weight': '16s',
                   'upscore.weight': '32s'}
LAYER_NAMES = ('conv1_1 ... conv5_3, fc6, fc7, score_fr, score_pool4, score_pool3, '
               'upscore2, upscore_pool4, upscore8 / upscore16 / upscore')


def detect_arch(keys: Sequence[str], src: str = 'SRC') -> str:
    """'32s', '16s' or '8s' from the last upsampler's key.

    Raises:
        KeyError: no or several of ``upscore8``, ``upscore16``, ``upscore``.
    """
    found = [arch for key, arch in _LAST_UPSAMPLER.items() if key in keys]
    if len(found) == 1:
        return found[0]
    sample = sorted(keys)[:5]
    if not found:
        raise KeyError(f'{src} is not an FCN VGG16 state dict in the Caffe layout: none of '
                       f'{sorted(_LAST_UPSAMPLER)} is in it (its keys start {sample}); '
                       f'expected the layer names {LAYER_NAMES}')
    raise KeyError(f'{src} mixes FCN variants: it has {found} upsamplers '
                   f'({[k for k in _LAST_UPSAMPLER if k in keys]}); expected one of them')


def _width(state_dict: Mapping[str, torch.Tensor], key: str, src: str) -> int:
    if key not in state_dict:
        raise KeyError(f'{src} has no {key!r}: expected the Caffe FCN layer names '
                       f'{LAYER_NAMES}')
    return int(state_dict[key].shape[0])


def expected_shapes(arch: str, base: int = 64, fc: int = 4096,
                    num_classes: int = 21) -> Dict[str, Tuple[int, ...]]:
    """Every key of an FCN-``arch`` VGG16 in the Caffe layout, with its shape.

    Args:
        arch (str): '32s', '16s' or '8s'.
        base (int): channels of conv1_* (64 in VGG16).
        fc (int): channels of fc6/fc7 (4096).
        num_classes (int): classes (21 for Pascal VOC).

    Returns:
        dict[str, tuple[int, ...]]: e.g. ``'fc6.weight': (4096, 512, 7, 7)``.
    """
    shapes: Dict[str, Tuple[int, ...]] = OrderedDict()
    widths = [base * 2**min(s, 3) for s in range(len(_STAGES))]
    channels = 3
    for name in _CONVS:
        out = widths[int(name[4]) - 1]
        shapes[f'{name}.weight'], shapes[f'{name}.bias'] = (out, channels, 3, 3), (out,)
        channels = out
    shapes.update({'fc6.weight': (fc, channels, 7, 7), 'fc6.bias': (fc,),
                   'fc7.weight': (fc, fc, 1, 1), 'fc7.bias': (fc,),
                   'score_fr.weight': (num_classes, fc, 1, 1),
                   'score_fr.bias': (num_classes,)})
    for name, stage in _SKIPS[arch]:
        shapes[f'{name}.weight'] = (num_classes, widths[stage], 1, 1)
        shapes[f'{name}.bias'] = (num_classes,)
    for name, stride in _UPSAMPLERS[arch]:
        shapes[f'{name}.weight'] = (num_classes, num_classes, 2 * stride, 2 * stride)
    return shapes


def fcnmm_key(key: str) -> str:
    """fcn_mm's name of a Caffe FCN key: ``backbone.`` or ``decode_head.`` + the key."""
    return ('backbone.' if key.startswith(('conv', 'fc')) else 'decode_head.') + key


def _check(state_dict: Mapping[str, torch.Tensor], shapes: Dict[str, Tuple[int, ...]],
           what: str, src: str) -> None:
    """Raise on unknown keys, missing keys, non-tensors and wrong shapes (all listed)."""
    unknown = [k for k in state_dict if k not in shapes]
    missing = [k for k in shapes if k not in state_dict]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f'{len(unknown)} unknown keys {unknown[:8]}')
        if missing:
            parts.append(f'{len(missing)} missing keys {missing[:8]}')
        raise KeyError(f'{src} does not fit {what}: {"; ".join(parts)}; expected exactly '
                       f'the keys of the Caffe layer names {LAYER_NAMES}')
    wrong = []
    for key, shape in shapes.items():
        value = state_dict[key]
        if not isinstance(value, torch.Tensor):
            wrong.append(f'{key} is a {type(value).__name__}, not a tensor')
        elif tuple(value.shape) != shape:
            wrong.append(f'{key} has shape {tuple(value.shape)}, expected {shape}')
    if wrong:
        raise ValueError(f'{src} does not fit {what}: ' + '; '.join(wrong[:8]))


def convert_caffe_fcn(state_dict: Mapping[str, torch.Tensor],
                      src: str = 'SRC') -> Tuple[str, Dict[str, torch.Tensor]]:
    """Check a Caffe-layout FCN VGG16 state dict and map it to fcn_mm's keys.

    Args:
        state_dict (Mapping[str, Tensor]): Caffe layer names -> tensors.
        src (str): the file name, for the messages.

    Returns:
        tuple[str, dict[str, Tensor]]: the variant ('32s', '16s', '8s') and the
        fcn_mm state dict (``backbone.conv1_1.weight``, ``decode_head.upscore8.weight``...).

    Raises:
        KeyError: not an FCN in this layout, or unknown / missing keys (listed).
        ValueError: tensors of the wrong shape (listed with the expected shapes).
    """
    arch = detect_arch(list(state_dict), src)
    base = _width(state_dict, 'conv1_1.weight', src)
    fc = _width(state_dict, 'fc6.weight', src)
    num_classes = _width(state_dict, 'score_fr.weight', src)
    what = (f'an FCN-{arch} VGG16 ({num_classes} classes, conv1_1 of {base} and fc6 of '
            f'{fc} channels)')
    _check(state_dict, expected_shapes(arch, base, fc, num_classes), what, src)
    return arch, OrderedDict((fcnmm_key(k), v) for k, v in state_dict.items())


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert Caffe-layout FCN-32s/16s/8s VGG16 weights to fcn_mm')
    parser.add_argument('src', help='state dict with the Caffe layer names')
    parser.add_argument('dst', help='output fcn_mm checkpoint')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> str:
    args = parse_args(argv)
    src = osp.expanduser(args.src)
    if not osp.isfile(src):
        raise FileNotFoundError(f'SRC {args.src!r} is not a file')
    caffe_state_dict = load_state_dict_file(src, keys=('state_dict', 'model_state_dict'))
    arch, state_dict = convert_caffe_fcn(caffe_state_dict, args.src)
    meta = dict(converted_from=osp.basename(src), converter='fcn_caffe2fcnmm',
                layout=f'FCN-{arch} VGG16 (Caffe-exact)')
    torch.save(dict(meta=meta, state_dict=state_dict), osp.expanduser(args.dst))
    print(f'FCN-{arch}: saved {len(state_dict)} tensors to {args.dst}; test it with '
          f'configs/fcn/fcn{arch}_vgg16_480x480_voc.py')
    return arch


if __name__ == '__main__':
    main(sys.argv[1:])
