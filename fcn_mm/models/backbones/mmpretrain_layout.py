"""Accept ResNet weights saved in the mmpretrain (mmcls) layout.

ImageNet ResNetV1c/V1d models of mmpretrain (``mmcls://resnet50_v1d`` in mmengine's zoo)
name two parts of the network differently from MMSegmentation and fcn_mm:

- the deep stem is three ``ConvModule`` s, ``stem.{i}.conv.weight`` and ``stem.{i}.bn.*``
  (i = 0, 1, 2); here it is a flat ``nn.Sequential`` of conv, norm, ReLU: ``stem.{3i}``
  and ``stem.{3i + 1}``;
- with ``avg_down`` mmpretrain puts the AvgPool into the identity downsample only where
  the stride is not 1, so a stride-1 stage (``layer1``) has ``downsample.{0,1}``;
  MMSegmentation's layout always has the pool first, so the same weights sit at
  ``downsample.{1,2}``.

MMSegmentation itself loads such a checkpoint non-strictly and leaves those layers at
their initial values. :func:`rename_mmpretrain_resnet_keys` renames the keys instead; the
ResNet backbone applies it as a ``load_state_dict`` pre-hook, so every way of loading
(``pretrained``, ``init_cfg``, ``load_checkpoint``, a full segmentor checkpoint) benefits.
Keys of fcn_mm's own layout are never touched: neither pattern occurs in it.
"""
import re
from typing import Dict, List, Tuple

from torch import nn

__all__ = ['rename_mmpretrain_resnet_keys']

_STEM_KEY = re.compile(r'stem\.([0-2])\.(conv|bn)\.(.+)')
_DOWNSAMPLE_KEY = re.compile(r'(layer\d+)\.0\.downsample\.([01])\.(.+)')


def _pool_first_stages(backbone: nn.Module) -> List[str]:
    """Names of the stages whose first block's downsample starts with an AvgPool2d."""
    stages = []
    for name in getattr(backbone, 'res_layers', []):
        downsample = getattr(getattr(backbone, name)[0], 'downsample', None)
        if isinstance(downsample, nn.Sequential) and len(downsample) == 3 \
                and isinstance(downsample[0], nn.AvgPool2d):
            stages.append(name)
    return stages


def rename_mmpretrain_resnet_keys(state_dict: Dict[str, object], prefix: str,
                                  backbone: nn.Module) -> List[Tuple[str, str]]:
    """Rename, in place, the mmpretrain-layout keys of ``backbone`` under ``prefix``.

    Args:
        state_dict (dict): the state dict being loaded (modified in place).
        prefix (str): the backbone's prefix in it (``''`` or e.g. ``'backbone.'``).
        backbone (nn.Module): a :class:`~fcn_mm.models.backbones.ResNet`; its
            ``deep_stem`` and the modules of its stages decide which keys are renamed.

    Returns:
        list[tuple[str, str]]: the (old, new) key pairs, in the order renamed.
    """
    deep_stem = bool(getattr(backbone, 'deep_stem', False))
    # a stage is in the pool-less layout when its conv is at downsample.0 (a pool has
    # no weights, so in the pool-first layout nothing is stored under downsample.0)
    stages_to_shift = {stage for stage in _pool_first_stages(backbone)
                       if f'{prefix}{stage}.0.downsample.0.weight' in state_dict}
    renames = []
    for key in list(state_dict):
        if not key.startswith(prefix):
            continue
        local = key[len(prefix):]
        stem = _STEM_KEY.fullmatch(local) if deep_stem else None
        if stem is not None:
            index = 3 * int(stem.group(1)) + (0 if stem.group(2) == 'conv' else 1)
            renames.append((key, f'{prefix}stem.{index}.{stem.group(3)}'))
            continue
        down = _DOWNSAMPLE_KEY.fullmatch(local)
        if down is not None and down.group(1) in stages_to_shift:
            index = int(down.group(2)) + 1
            renames.append((key, f'{prefix}{down.group(1)}.0.downsample.{index}.'
                                 f'{down.group(3)}'))
    # take every value out before writing, so that .0 -> .1 cannot overwrite .1 -> .2
    values = [state_dict.pop(old) for old, _ in renames]
    for (_, new), value in zip(renames, values):
        state_dict[new] = value
    return renames
