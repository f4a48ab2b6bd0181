"""FCNSkipHead: the skip architecture of the FCN paper (FCN-32s, FCN-16s, FCN-8s).

Reference: Long, Shelhamer and Darrell, Fully Convolutional Networks for Semantic
Segmentation (CVPR 2015, https://arxiv.org/abs/1411.4038).

FCN-8s (layer names of the paper's Caffe nets; FCN-16s stops after pool4 and
upsamples x16 with ``upscore16``, FCN-32s upsamples ``score_fr`` x32 with ``upscore``)::

    fc7   ─ score_fr (1x1) ─ upscore2 (x2) ──┐
    pool4 ─ score_pool4 (1x1) ─ crop ────────+─ upscore_pool4 (x2) ──┐
    pool3 ─ score_pool3 (1x1) ─ crop ───────────────────────────────+─ upscore8 (x8) ─┐
    image (its size only) ─────────────────────────────────────────────────── crop ──┴─>
                                                             logits (N, C, H, W)
"""
from typing import Dict, List, Sequence, Tuple

import torch
from torch import nn

from fcn_mm.registry import MODELS
from fcn_mm.utils.typing_utils import OptMultiConfig

from ..utils import BilinearConvTranspose2d
from .decode_head import BaseDecodeHead

__all__ = ['FCNSkipHead']

# arch: upsamplers (name, stride) coarse to fine, skip score layers (coarse to fine),
# Caffe crop offsets of the skips and of the output (the pad-100 network's geometry)
_ARCHS: Dict[str, dict] = {
    '32s': dict(upsamplers=(('upscore', 32),), skips=(), skip_offsets=(), out_offset=19),
    '16s': dict(upsamplers=(('upscore2', 2), ('upscore16', 16)), skips=('score_pool4',),
                skip_offsets=(5,), out_offset=27),
    '8s': dict(upsamplers=(('upscore2', 2), ('upscore_pool4', 2), ('upscore8', 8)),
               skips=('score_pool4', 'score_pool3'), skip_offsets=(5, 9), out_offset=31),
}
# the inputs of each arch and their channels in VGG16
_INPUTS = {'32s': ('image', 'fc7'), '16s': ('image', 'pool4', 'fc7'),
           '8s': ('image', 'pool3', 'pool4', 'fc7')}
_EXAMPLE_CHANNELS = {'32s': [3, 4096], '16s': [3, 512, 4096], '8s': [3, 256, 512, 4096]}
_ALIGNMENTS = ('caffe', 'aligned')
_FROZEN = ('none', 'last', 'all')


def _crop(x: torch.Tensor, offset: int, size: Sequence[int], what: str,
          alignment: str) -> torch.Tensor:
    """``x[:, :, offset:offset + h, offset:offset + w]``; a clear error if it is too small."""
    height, width = int(size[0]), int(size[1])
    if x.shape[2] < offset + height or x.shape[3] < offset + width:
        hint = ("the Caffe offsets are those of the pad-100 backbone (first_conv_padding"
                "=100, fc6_kernel_size=7, fc6_padding=0)" if alignment == 'caffe' else
                "the aligned head needs a backbone whose maps are ceil(H / stride) "
                "(first_conv_padding=1, ceil_mode=True, fc6 padded to keep its size)")
        raise ValueError(
            f"FCNSkipHead(alignment='{alignment}'): the {what} is "
            f'{tuple(x.shape[2:])}, too small for a {height}x{width} crop at offset '
            f'{offset}; {hint}')
    return x[:, :, offset:offset + height, offset:offset + width]


@MODELS.register_module()
class FCNSkipHead(BaseDecodeHead):
    """The FCN paper's head: score layers, bilinear-initialised upsampling, skip fusion.

    Inputs (``input_transform='multiple_select'``, picked by ``in_index``): the image
    first (only its size is used; :class:`~fcn_mm.models.backbones.VGG` with
    ``return_input=True``), then the skip features fine to coarse, then fc7:
    ``(image, pool3, pool4, fc7)`` for 8s, ``(image, pool4, fc7)`` for 16s,
    ``(image, fc7)`` for 32s. The output has exactly the image's size, so
    ``mode='tensor'``, ``predict`` and the losses see the same (N, C, H, W) logits.

    ``alignment='caffe'``: transposed convs without padding and the fixed crops of the
    pad-100 Caffe network (skips at 5 and 9, output at 31 for 8s; 5 and 27 for 16s;
    19 for 32s). ``'aligned'``: transposed convs padded by stride / 2 (an exact x2
    of the map), the upsampled map cut to the skip's size at offset 0, for a backbone
    without the pad-100 (any crop size trains).

    Module names are the Caffe layer names: ``score_fr`` (the classifier; the
    ``conv_seg`` property returns it), ``score_pool4``, ``score_pool3``, ``upscore2``,
    ``upscore_pool4``, ``upscore8`` / ``upscore16`` / ``upscore``. Score layers start
    at zero, as in the paper; upsamplers as bilinear interpolation, without bias.

    Args:
        arch (str): '32s', '16s' or '8s'. Defaults to '8s'.
        alignment (str): 'caffe' or 'aligned'. Defaults to 'caffe'.
        frozen_upsample (str): which upsamplers keep their bilinear weights fixed:
            'none', 'last' (the paper's choice) or 'all'. Defaults to 'last'.
        dropout_ratio (float): dropout before ``score_fr`` (VGG's drop7 already
            precedes it). Defaults to 0.
        input_transform (str): must be 'multiple_select'.
        init_cfg (dict | list[dict], optional): None keeps the zero score layers.
        **kwargs: :class:`BaseDecodeHead` arguments (in_channels, channels = fc7's
            channels, num_classes, in_index, loss_decode, ...).

    Shape:
        inputs -> logits (N, out_channels, H, W), the size of ``inputs[in_index[0]]``.
    """

    def __init__(self, arch: str = '8s', alignment: str = 'caffe',
                 frozen_upsample: str = 'last', dropout_ratio: float = 0.0,
                 input_transform: str = 'multiple_select',
                 init_cfg: OptMultiConfig = None, **kwargs) -> None:
        if arch not in _ARCHS:
            raise ValueError(f'decode_head.arch must be one of {sorted(_ARCHS)}, got {arch!r}')
        if alignment not in _ALIGNMENTS:
            raise ValueError(f'decode_head.alignment must be one of {_ALIGNMENTS}, '
                             f'got {alignment!r}')
        if frozen_upsample not in _FROZEN:
            raise ValueError(f'decode_head.frozen_upsample must be one of {_FROZEN}, '
                             f'got {frozen_upsample!r}')
        if input_transform != 'multiple_select':
            raise ValueError("decode_head.input_transform must be 'multiple_select' for "
                             f'FCNSkipHead (image, skips, fc7), got {input_transform!r}')
        super().__init__(dropout_ratio=dropout_ratio, input_transform=input_transform,
                         init_cfg=init_cfg, **kwargs)
        self.arch, self.alignment, self.frozen_upsample = arch, alignment, frozen_upsample
        spec = _ARCHS[arch]
        self._check_channels()
        self.skip_names: Tuple[str, ...] = spec['skips']
        self.upsample_names = tuple(name for name, _ in spec['upsamplers'])
        self.skip_offsets, self.out_offset = spec['skip_offsets'], spec['out_offset']
        # the classifier keeps the Caffe name: score_fr, not BaseDecodeHead's conv_seg
        self.score_fr = self._modules.pop('conv_seg')
        skip_channels = list(self.in_channels[1:-1])[::-1]  # coarse to fine
        for name, channels in zip(self.skip_names, skip_channels):
            self.add_module(name, nn.Conv2d(channels, self.out_channels, 1))
        last = len(spec['upsamplers']) - 1
        for index, (name, stride) in enumerate(spec['upsamplers']):
            frozen = frozen_upsample == 'all' or (frozen_upsample == 'last' and index == last)
            padding = stride // 2 if alignment == 'aligned' else 0
            self.add_module(name, BilinearConvTranspose2d(
                self.out_channels, stride, padding=padding, frozen=frozen))
        for name in ('score_fr',) + self.skip_names:
            nn.init.zeros_(getattr(self, name).weight)
            nn.init.zeros_(getattr(self, name).bias)

    def _check_channels(self) -> None:
        names = _INPUTS[self.arch]
        if not isinstance(self.in_channels, (list, tuple)) or \
                len(self.in_channels) != len(names):
            raise ValueError(
                f'decode_head.in_channels must give the channels of {len(names)} inputs '
                f'for arch={self.arch!r}: {", ".join(names)} (VGG16: '
                f'{_EXAMPLE_CHANNELS[self.arch]}), got {self.in_channels!r}')
        if self.in_channels[-1] != self.channels:
            raise ValueError(f'decode_head.channels ({self.channels}) must equal the fc7 '
                             f'channels, the last of in_channels ({self.in_channels[-1]})')

    @property
    def conv_seg(self) -> nn.Conv2d:
        """nn.Conv2d: the classifier ``score_fr`` under BaseDecodeHead's name (no own key)."""
        return self.score_fr

    def cls_seg(self, feat: torch.Tensor) -> torch.Tensor:
        """Dropout then ``score_fr``: (N, channels, h, w) -> (N, out_channels, h, w)."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.score_fr(feat)

    def _fuse(self, upsampled: torch.Tensor, skip_score: torch.Tensor, offset: int,
              name: str) -> torch.Tensor:
        """Add a skip's scores to the upsampled coarser scores (cropped as Caffe or aligned)."""
        if self.alignment == 'caffe':
            return upsampled + _crop(skip_score, offset, upsampled.shape[2:],
                                     f'{name} map', self.alignment)
        return _crop(upsampled, 0, skip_score.shape[2:], f'upsampled map before {name}',
                     self.alignment) + skip_score

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """Logits at the image's size.

        Args:
            inputs (Sequence[Tensor]): backbone outputs; ``in_index`` picks
                (image, skips fine to coarse, fc7).

        Returns:
            Tensor: (N, out_channels, H, W) with (H, W) the image's size.
        """
        feats: List[torch.Tensor] = self._transform_inputs(inputs)
        image, skips, top = feats[0], feats[1:-1][::-1], feats[-1]
        score = self.cls_seg(top)
        for index, (name, feat) in enumerate(zip(self.skip_names, skips)):
            upsampled = getattr(self, self.upsample_names[index])(score)
            score = self._fuse(upsampled, getattr(self, name)(feat),
                               self.skip_offsets[index], name)
        score = getattr(self, self.upsample_names[-1])(score)
        offset = self.out_offset if self.alignment == 'caffe' else 0
        return _crop(score, offset, image.shape[2:], f'{self.upsample_names[-1]} output',
                     self.alignment)

    def predict_by_feat(self, seg_logits: torch.Tensor,
                        batch_img_metas: List[dict]) -> torch.Tensor:
        """The logits already have the input size: returned as they are (else resized)."""
        meta = batch_img_metas[0]
        if isinstance(meta['img_shape'], torch.Size):
            size = meta['img_shape']
        else:
            size = meta.get('pad_shape', meta['img_shape'])[:2]
        if tuple(seg_logits.shape[2:]) == tuple(int(s) for s in size):
            return seg_logits
        return super().predict_by_feat(seg_logits, batch_img_metas)
