"""BaseSegmentor: mode dispatch and post-processing shared by segmentors."""
import warnings
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Tuple

import torch
from mmengine.model import BaseModel
from mmengine.structures import PixelData

from fcn_mm.structures import SegDataSample
from fcn_mm.utils.misc import resize
from fcn_mm.utils.typing_utils import (ForwardResults, OptConfigType, OptMultiConfig,
                                       OptSampleList, SampleList)

__all__ = ['BaseSegmentor']

_MODES = ('tensor', 'loss', 'predict')


class BaseSegmentor(BaseModel, metaclass=ABCMeta):
    """Base of segmentors (an mmengine ``BaseModel``).

    ``forward(inputs, data_samples, mode)`` dispatches to ``loss`` (dict of
    losses), ``predict`` (list of :class:`SegDataSample`) or ``_forward``
    (raw logits). Subclasses provide those and ``extract_feat``/``encode_decode``.

    Args:
        data_preprocessor (dict, optional): config of the data preprocessor.
        init_cfg (dict or list[dict], optional): initialisation config.
    """

    def __init__(self, data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)

    @property
    def with_neck(self) -> bool:
        """bool: whether the segmentor has a neck."""
        return getattr(self, 'neck', None) is not None

    @property
    def with_auxiliary_head(self) -> bool:
        """bool: whether the segmentor has auxiliary head(s)."""
        return getattr(self, 'auxiliary_head', None) is not None

    @property
    def with_decode_head(self) -> bool:
        """bool: whether the segmentor has a decode head."""
        return getattr(self, 'decode_head', None) is not None

    @abstractmethod
    def extract_feat(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Backbone (and neck) features of ``inputs`` (N, C, H, W)."""

    @abstractmethod
    def encode_decode(self, inputs: torch.Tensor, batch_data_samples: List[dict]):
        """Logits at the input size for ``inputs`` (N, C, H, W)."""

    @abstractmethod
    def loss(self, inputs: torch.Tensor, data_samples: SampleList) -> Dict[str, torch.Tensor]:
        """Losses of a batch."""

    @abstractmethod
    def predict(self, inputs: torch.Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Predictions of a batch at the original image size."""

    @abstractmethod
    def _forward(self, inputs: torch.Tensor, data_samples: OptSampleList = None):
        """Raw network output of a batch."""

    def forward(self, inputs: torch.Tensor, data_samples: OptSampleList = None,
                mode: str = 'tensor') -> ForwardResults:
        """Dispatch on ``mode``.

        Args:
            inputs (Tensor): preprocessed images (N, C, H, W).
            data_samples (list[SegDataSample], optional): metainfo and ``gt_sem_seg``
                (required for 'loss').
            mode (str): 'tensor' (logits (N, C, ceil(H/8), ceil(W/8)) for -d8 nets),
                'loss' (dict of losses) or 'predict' (list of SegDataSample).

        Returns:
            dict | list[SegDataSample] | Tensor: as described for ``mode``.
        """
        if mode != 'loss' and self.training and not torch.is_grad_enabled():
            self._warn_training_mode_inference(mode)
        if mode == 'loss':
            if data_samples is None:
                raise ValueError("mode='loss' needs data_samples with gt_sem_seg")
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise ValueError(f'Invalid mode {mode!r}: expected one of {_MODES}')

    def _warn_training_mode_inference(self, mode: str) -> None:
        """Warn once per model: inference under ``no_grad`` while in training mode."""
        if self.__dict__.get('_warned_training_mode', False):
            return
        self.__dict__['_warned_training_mode'] = True
        warnings.warn(
            f"{type(self).__name__}.forward(mode={mode!r}) under torch.no_grad() while the "
            'model is in training mode: batch norm uses the statistics of this batch (and '
            'updates its running statistics) and dropout is active, which is slower than '
            'inference and gives other results. Call model.eval() first (init_model, '
            'tools/test.py and benchmark.py do).', stacklevel=3)

    def postprocess_result(self, seg_logits: torch.Tensor,
                           data_samples: OptSampleList = None) -> SampleList:
        """Turn batch logits into per-image ``seg_logits`` and ``pred_sem_seg``.

        Per image: crop the padding (``img_padding_size`` or ``padding_size``,
        as (left, right, top, bottom)), undo a flip (``flip``/``flip_direction``),
        resize bilinearly to ``ori_shape``; then argmax (or sigmoid and threshold for
        a single-channel head). Without ``data_samples`` the logits are used as they are.

        Args:
            seg_logits (Tensor): (N, C, H, W) logits at the network input size.
            data_samples (list[SegDataSample], optional): with metainfo.

        Returns:
            list[SegDataSample]: ``seg_logits`` (C, H0, W0), ``pred_sem_seg`` (1, H0, W0).
        """
        batch_size, channels, height, width = seg_logits.shape
        only_prediction = data_samples is None
        if only_prediction:
            data_samples = [SegDataSample() for _ in range(batch_size)]
        for i in range(batch_size):
            if only_prediction:
                logits = seg_logits[i]
            else:
                logits = self._restore_to_original(seg_logits[i:i + 1],
                                                   data_samples[i].metainfo)
            if channels > 1:
                # max(...)[1] is argmax (first maximum) but 3-4x faster on CPU
                pred = logits.max(dim=0, keepdim=True)[1]
            else:
                logits = logits.sigmoid()
                pred = (logits > self.decode_head.threshold).to(logits)
            data_samples[i].set_data({'seg_logits': PixelData(data=logits),
                                      'pred_sem_seg': PixelData(data=pred)})
        return data_samples

    def _restore_to_original(self, logits: torch.Tensor, meta: dict) -> torch.Tensor:
        """(1, C, H, W) logits -> (C, H0, W0): crop padding, unflip, resize to ori_shape."""
        if 'ori_shape' not in meta:
            raise KeyError("predict needs 'ori_shape' in each data sample's metainfo (the "
                           f'pipeline sets it); got keys {sorted(meta)}')
        height, width = logits.shape[2:]
        padding = meta.get('img_padding_size', meta.get('padding_size', [0, 0, 0, 0]))
        left, right, top, bottom = (int(p) for p in padding)
        logits = logits[:, :, top:height - bottom, left:width - right]
        if meta.get('flip', False):
            direction = meta.get('flip_direction', None)
            if direction not in ('horizontal', 'vertical'):
                raise ValueError("flip_direction must be 'horizontal' or 'vertical' for a "
                                 f'flipped image, got {direction!r}')
            logits = logits.flip(dims=(3,) if direction == 'horizontal' else (2,))
        size = tuple(int(s) for s in meta['ori_shape'][:2])
        if tuple(logits.shape[2:]) != size:
            # a bilinear resize to the same size is the identity: skip it
            logits = resize(logits, size=size, mode='bilinear',
                            align_corners=self.align_corners, warning=False)
        return logits.squeeze(0)
