"""InferenceGraph: the whole-image inference path of a segmentor as one module to export.

Call flow (what :meth:`EncoderDecoder.predict` computes on a batch without padding)::

    img (N, 3, H, W) raw 0..255, the pipeline's channel order (BGR for cv2 loading)
      -> channel conversion (bgr_to_rgb / rgb_to_bgr of SegDataPreProcessor)
      -> (img - mean) / std
      -> backbone (-> neck) -> decode head            logits (N, C, h, w)
      -> bilinear resize to (H, W) (align_corners of the decode head)
      -> seg_logits (N, C, H, W)  [+ labels (N, H, W): argmax, or threshold for C=1]

Loading and resizing the original image, padding and sliding windows stay outside.
"""
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['InferenceGraph', 'raw_pad_value']


def _preprocessor_parts(segmentor: nn.Module) -> Tuple[bool, torch.Tensor, torch.Tensor]:
    """(channel conversion, mean (1, C, 1, 1), std (1, C, 1, 1)) of the data preprocessor."""
    preprocessor = getattr(segmentor, 'data_preprocessor', None)
    conversion = bool(getattr(preprocessor, 'channel_conversion', False))
    if getattr(preprocessor, '_enable_normalize', False):
        mean = preprocessor.mean.detach().float().reshape(1, -1, 1, 1).clone()
        std = preprocessor.std.detach().float().reshape(1, -1, 1, 1).clone()
    else:
        mean, std = torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1)
    return conversion, mean, std


def raw_pad_value(segmentor: nn.Module) -> List[float]:
    """Raw pixel values (input channel order) that the preprocessor maps to ``pad_val``.

    fcn_mm pads the *normalised* image with ``pad_val`` (0 by default). A graph that
    takes raw pixels reproduces that by padding the raw image with these values:
    ``pad_val * std + mean``, per input channel.

    Args:
        segmentor (nn.Module): a segmentor with a ``SegDataPreProcessor``.

    Returns:
        list[float]: three values, in the graph input's channel order.
    """
    conversion, mean, std = _preprocessor_parts(segmentor)
    pad_val = float(getattr(segmentor.data_preprocessor, 'pad_val', 0))
    values = [float(v) for v in (pad_val * std + mean).reshape(-1)]
    if len(values) == 1:
        values = values * 3
    return values[::-1] if conversion else values


class InferenceGraph(nn.Module):
    """Raw images in, logits at the input size out: the module that is exported.

    Args:
        segmentor (nn.Module): an ``EncoderDecoder`` (``extract_feat``,
            ``decode_head``, ``data_preprocessor``) in eval mode.
        with_argmax (bool): also return the labels. Defaults to False.

    Shape:
        - Input ``img``: (N, 3, H, W) float32, raw 0..255, the pipeline's channel order.
        - Output ``seg_logits``: (N, C, H, W) float32 (raw logits; for a binary head
          C = 1 and ``predict`` reports their sigmoid).
        - Output ``labels`` (``with_argmax``): (N, H, W) int64.
    """

    def __init__(self, segmentor: nn.Module, with_argmax: bool = False):
        super().__init__()
        for name in ('extract_feat', 'decode_head', 'data_preprocessor'):
            if not hasattr(segmentor, name):
                raise TypeError(f'{type(segmentor).__name__} has no `{name}`: only '
                                'EncoderDecoder-style segmentors can be exported')
        self.segmentor = segmentor
        self.channel_conversion, mean, std = _preprocessor_parts(segmentor)
        self.register_buffer('mean', mean, persistent=False)
        self.register_buffer('std', std, persistent=False)
        head = segmentor.decode_head
        self.align_corners = bool(head.align_corners)
        self.out_channels = int(head.out_channels)
        # set for binary heads (out_channels == 1) only, as in BaseDecodeHead
        self.threshold = float(head.threshold) if head.threshold is not None else None
        self.with_argmax = with_argmax

    @property
    def output_names(self) -> List[str]:
        """Names of the graph outputs, in order."""
        return ['seg_logits', 'labels'] if self.with_argmax else ['seg_logits']

    def forward(self, img: torch.Tensor) -> Union[torch.Tensor, Sequence[torch.Tensor]]:
        """(N, 3, H, W) raw images -> seg_logits (N, C, H, W) [, labels (N, H, W)]."""
        x = img.flip(1) if self.channel_conversion else img
        x = (x - self.mean) / self.std
        logits = self.segmentor.decode_head(self.segmentor.extract_feat(x))
        # the size stays symbolic (no int()), so H and W can be dynamic in the graph
        logits = F.interpolate(logits, size=img.shape[2:], mode='bilinear',
                               align_corners=self.align_corners)
        if not self.with_argmax:
            return logits
        if self.out_channels > 1:
            labels = logits.argmax(dim=1)
        else:
            labels = (logits.sigmoid() > self.threshold).squeeze(1).long()
        return logits, labels
