"""BaseDecodeHead: input selection, classifier, losses and logits resizing of decode heads.

Call flow::

    loss(inputs, batch_data_samples, train_cfg)
      -> forward(inputs)                      # subclass: (N, out_channels, h, w)
      -> loss_by_feat(seg_logits, samples)    # resize ONCE to the label size,
                                              # then each loss_decode + acc_seg
    predict(inputs, batch_img_metas, test_cfg)
      -> forward(inputs)
      -> predict_by_feat(seg_logits, metas)   # resize to the (padded) input size
"""
import math
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from fcn_mm.registry import MODELS
from fcn_mm.utils.misc import resize
from fcn_mm.utils.typing_utils import ConfigType, OptConfigType, OptMultiConfig, SampleList

from ..losses import accuracy
from ..samplers import build_pixel_sampler

__all__ = ['BaseDecodeHead']

_TRANSFORMS = (None, 'resize_concat', 'multiple_select')


def _check_inputs(in_channels, in_index, input_transform) -> None:
    if input_transform not in _TRANSFORMS:
        raise ValueError(f'decode_head.input_transform must be one of {_TRANSFORMS}, '
                         f'got {input_transform!r}')
    if input_transform is None:
        if not isinstance(in_channels, int) or not isinstance(in_index, int):
            raise TypeError('without input_transform, decode_head.in_channels and in_index '
                            f'must be ints, got {in_channels!r} and {in_index!r}')
        return
    if not isinstance(in_channels, (list, tuple)) or not isinstance(in_index, (list, tuple)):
        raise TypeError(f'with input_transform={input_transform!r}, decode_head.in_channels '
                        f'and in_index must be lists, got {in_channels!r} and {in_index!r}')
    if len(in_channels) != len(in_index):
        raise ValueError(f'decode_head.in_channels {list(in_channels)} and in_index '
                         f'{list(in_index)} must have the same length')


def _build_losses(loss_decode: Union[dict, Sequence[dict]]) -> nn.Module:
    if isinstance(loss_decode, dict):
        return MODELS.build(loss_decode)
    if isinstance(loss_decode, (list, tuple)):
        return nn.ModuleList(MODELS.build(cfg) for cfg in loss_decode)
    raise TypeError(f'decode_head.loss_decode must be a dict or a list of dicts, '
                    f'got {type(loss_decode).__name__}')


class BaseDecodeHead(BaseModule):
    """Base of decode heads; subclasses implement ``forward(inputs) -> logits``.

    Args:
        in_channels (int | Sequence[int]): input channels (a list with an
            ``input_transform``).
        channels (int): channels after the head's own layers (input of ``conv_seg``).
        num_classes (int): number of classes.
        out_channels (int, optional): output channels; ``num_classes`` by default,
            or 1 for a binary head with a sigmoid.
        threshold (float, optional): binary threshold (``out_channels == 1``); 0.3
            when not given.
        dropout_ratio (float): Dropout2d before ``conv_seg``. Defaults to 0.1.
        conv_cfg (dict, optional): conv layer config.
        norm_cfg (dict, optional): norm layer config.
        act_cfg (dict): activation config. Defaults to ``dict(type='ReLU')``.
        in_index (int | Sequence[int]): which backbone output(s) to read. Defaults to -1.
        input_transform (str, optional): None (one map), 'resize_concat' (resize to
            the first and concatenate) or 'multiple_select' (a list of maps).
        loss_decode (dict | Sequence[dict]): loss config(s); losses of the same
            ``loss_name`` are summed.
        ignore_index (int): label left out of loss and accuracy. Defaults to 255.
        sampler (dict, optional): pixel sampler, e.g. ``dict(type='OHEMPixelSampler',
            thresh=0.7, min_kept=100000)``; its 0/1 pixel weights go to every loss
            as ``weight``. Defaults to None.
        align_corners (bool): ``align_corners`` of every resize. Defaults to False.
        init_cfg (dict or list[dict]): defaults to ``Normal(std=0.01)`` on ``conv_seg``.
    """

    def __init__(self, in_channels: Union[int, Sequence[int]], channels: int, *,
                 num_classes: int, out_channels: Optional[int] = None,
                 threshold: Optional[float] = None, dropout_ratio: float = 0.1,
                 conv_cfg: OptConfigType = None, norm_cfg: OptConfigType = None,
                 act_cfg: ConfigType = dict(type='ReLU'),
                 in_index: Union[int, Sequence[int]] = -1,
                 input_transform: Optional[str] = None,
                 loss_decode: Union[ConfigType, Sequence[ConfigType]] = dict(
                     type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                 ignore_index: int = 255, sampler: OptConfigType = None,
                 align_corners: bool = False,
                 init_cfg: OptMultiConfig = dict(type='Normal', std=0.01,
                                                 override=dict(name='conv_seg'))):
        super().__init__(init_cfg)
        _check_inputs(in_channels, in_index, input_transform)
        self.input_transform = input_transform
        self.in_index = in_index
        # the configured value, checked against the backbone by EncoderDecoder
        self.input_channels = in_channels if isinstance(in_channels, int) else list(in_channels)
        self.in_channels = (sum(in_channels) if input_transform == 'resize_concat'
                            else self.input_channels)
        self.channels = channels
        self.dropout_ratio = dropout_ratio
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.ignore_index = ignore_index
        self.align_corners = align_corners
        self.num_classes, self.out_channels, self.threshold = self._resolve_outputs(
            num_classes, out_channels, threshold)
        self.loss_decode = _build_losses(loss_decode)
        self.sampler = (None if sampler is None
                        else build_pixel_sampler(sampler, context=self))
        self.conv_seg = nn.Conv2d(channels, self.out_channels, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None

    @staticmethod
    def _resolve_outputs(num_classes: int, out_channels: Optional[int],
                         threshold: Optional[float]) -> Tuple[int, int, Optional[float]]:
        if out_channels is None:
            if num_classes == 2:
                warnings.warn('Binary segmentation: consider out_channels=1 (sigmoid) with '
                              'a threshold instead of two softmax channels.')
            out_channels = num_classes
        if out_channels != num_classes and out_channels != 1:
            raise ValueError(
                'decode_head.out_channels must equal num_classes, or be 1 for binary '
                f'segmentation (num_classes=2); got out_channels={out_channels} and '
                f'num_classes={num_classes}')
        if out_channels == 1 and threshold is None:
            threshold = 0.3
            warnings.warn('decode_head.threshold is not set for a binary head; using 0.3')
        return num_classes, out_channels, threshold

    def extra_repr(self) -> str:
        return (f'input_transform={self.input_transform}, ignore_index={self.ignore_index}, '
                f'align_corners={self.align_corners}')

    def _transform_inputs(self, inputs: Sequence[torch.Tensor]
                          ) -> Union[torch.Tensor, List[torch.Tensor]]:
        """Pick the head's input(s) from the backbone outputs (see ``input_transform``)."""
        if self.input_transform is None:
            return inputs[self.in_index]
        selected = [inputs[i] for i in self.in_index]
        if self.input_transform == 'multiple_select':
            return selected
        size = selected[0].shape[2:]
        return torch.cat([resize(x, size=size, mode='bilinear',
                                 align_corners=self.align_corners) for x in selected], dim=1)

    def cls_seg(self, feat: torch.Tensor) -> torch.Tensor:
        """Dropout then the 1x1 classifier: (N, channels, h, w) -> (N, out_channels, h, w)."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.conv_seg(feat)

    def loss(self, inputs: Sequence[torch.Tensor], batch_data_samples: SampleList,
             train_cfg: ConfigType) -> Dict[str, torch.Tensor]:
        """Forward and compute the losses.

        Args:
            inputs (Sequence[Tensor]): backbone outputs.
            batch_data_samples (list[SegDataSample]): with ``gt_sem_seg`` (1, H, W).
            train_cfg (dict): training config (unused by the base head).

        Returns:
            dict[str, Tensor]: each ``loss_name`` plus ``acc_seg``.
        """
        return self.loss_by_feat(self.forward(inputs), batch_data_samples)

    def predict(self, inputs: Sequence[torch.Tensor], batch_img_metas: List[dict],
                test_cfg: ConfigType) -> torch.Tensor:
        """Forward and resize the logits to the input size.

        Args:
            inputs (Sequence[Tensor]): backbone outputs.
            batch_img_metas (list[dict]): image metas (``img_shape``, ``pad_shape``).
            test_cfg (dict): testing config (unused by the base head).

        Returns:
            Tensor: (N, out_channels, H, W).
        """
        return self.predict_by_feat(self.forward(inputs), batch_img_metas)

    @staticmethod
    def _stack_batch_gt(batch_data_samples: SampleList) -> torch.Tensor:
        return torch.stack([s.gt_sem_seg.data for s in batch_data_samples], dim=0)

    def loss_by_feat(self, seg_logits: torch.Tensor,
                     batch_data_samples: SampleList) -> Dict[str, torch.Tensor]:
        """Losses and accuracy of logits against the stacked ``gt_sem_seg``.

        The logits are resized (bilinear, ``align_corners``) to the label size once;
        every loss and the accuracy use that tensor. With a ``sampler``, its pixel
        weights (N, H, W) are passed to every loss as ``weight``. Losses of the same
        ``loss_name`` are summed.

        Args:
            seg_logits (Tensor): (N, C, h, w).
            batch_data_samples (list[SegDataSample]): with ``gt_sem_seg`` (1, H, W).

        Returns:
            dict[str, Tensor]: ``{loss_name: loss, ..., 'acc_seg': (1,) percent}``.
        """
        seg_label = self._stack_batch_gt(batch_data_samples)          # (N, 1, H, W)
        seg_logits = resize(seg_logits, size=seg_label.shape[2:], mode='bilinear',
                            align_corners=self.align_corners)
        seg_weight = (None if self.sampler is None
                      else self.sampler.sample(seg_logits, seg_label))
        seg_label = seg_label.squeeze(1).long()
        losses_decode = (self.loss_decode if isinstance(self.loss_decode, nn.ModuleList)
                         else [self.loss_decode])
        loss: Dict[str, torch.Tensor] = {}
        for loss_fn in losses_decode:
            value = loss_fn(seg_logits, seg_label, weight=seg_weight,
                            ignore_index=self.ignore_index)
            name = loss_fn.loss_name
            loss[name] = loss[name] + value if name in loss else value
        loss['acc_seg'] = accuracy(self._accuracy_scores(seg_logits), seg_label,
                                   ignore_index=self.ignore_index)
        return loss

    def _accuracy_scores(self, seg_logits: torch.Tensor) -> torch.Tensor:
        """Scores whose argmax is the prediction: a binary head's (N, 1, h, w) logit
        becomes (N, 2, h, w) ``[0, x - logit(threshold)]``, so label 1 wins exactly where
        ``sigmoid(x) > threshold``, as in ``predict``."""
        if seg_logits.size(1) != 1:
            return seg_logits
        t = min(max(float(self.threshold), 1e-6), 1 - 1e-6)
        shifted = seg_logits.detach() - math.log(t / (1 - t))
        return torch.cat([torch.zeros_like(shifted), shifted], dim=1)

    def predict_by_feat(self, seg_logits: torch.Tensor,
                        batch_img_metas: List[dict]) -> torch.Tensor:
        """Resize logits to the network input size.

        The size is ``img_shape`` when it is a ``torch.Size`` (a slide window),
        else ``pad_shape`` when present, else ``img_shape``.

        Args:
            seg_logits (Tensor): (N, C, h, w).
            batch_img_metas (list[dict]): image metas.

        Returns:
            Tensor: (N, C, H, W).
        """
        meta = batch_img_metas[0]
        if isinstance(meta['img_shape'], torch.Size):
            size = meta['img_shape']
        elif 'pad_shape' in meta:
            size = meta['pad_shape'][:2]
        else:
            size = meta['img_shape']
        return resize(seg_logits, size=tuple(size), mode='bilinear',
                      align_corners=self.align_corners)
