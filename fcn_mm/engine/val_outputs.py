"""What fcn_mm's ``ValLoop`` adds to a validation: a loss, and per-class scalars.

- :class:`PredictionLoss`: the decode head's own losses (``decode_head.loss_decode``)
  on the predicted logits at the label size, per image; ``val_cfg.compute_loss=True``
  logs them as ``decode.<loss_name>`` and their sum as ``val_loss`` (mmengine's name),
  which ``EarlyStoppingHook(monitor='val_loss')`` can watch.
- :func:`per_class_scalars`: ``IoU.<class>``, ``Acc.<class>`` ... from metrics that keep
  ``per_class_results`` (``IoUMetric``), for the visualizer backends (TensorBoard ...).
"""
import math
from typing import Dict, List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmengine.model import is_model_wrapper

__all__ = ['PredictionLoss', 'per_class_scalars']


class PredictionLoss:
    """The decode head's losses on validation predictions (``seg_logits`` vs labels).

    Args:
        model (nn.Module): the segmentor (or its DDP wrapper); it must have
            ``decode_head.loss_decode`` (one loss module or a ``ModuleList``) and
            ``decode_head.ignore_index``.

    Raises:
        TypeError: the model has no ``decode_head.loss_decode``.
    """

    def __init__(self, model: nn.Module) -> None:
        module = model.module if is_model_wrapper(model) else model
        head = getattr(module, 'decode_head', None)
        losses = getattr(head, 'loss_decode', None)
        if losses is None:
            raise TypeError(f'val_cfg.compute_loss=True needs a segmentor with '
                            f'decode_head.loss_decode (e.g. EncoderDecoder); '
                            f'{type(module).__name__} has none')
        self.losses: List[nn.Module] = (list(losses) if isinstance(losses, nn.ModuleList)
                                        else [losses])
        self.ignore_index = int(getattr(head, 'ignore_index', 255))

    def batch_sums(self, samples: Sequence) -> Dict[str, torch.Tensor]:
        """Per loss name, ``[sum over images of the image's loss, image count]``.

        The sums are added up over all processes (every process must call this once
        per validation batch, as mmengine's samplers arrange).

        Args:
            samples (Sequence[SegDataSample]): predictions with ``seg_logits`` (C, H, W)
                and ``gt_sem_seg`` (1, H', W'); logits are resized to the label size.

        Returns:
            dict[str, Tensor]: ``{'decode.<loss_name>': tensor([sum, count])}``.

        Raises:
            KeyError: a sample has no ``gt_sem_seg`` or ``seg_logits``.
        """
        sums: Dict[str, torch.Tensor] = {}
        for sample in samples:
            if 'gt_sem_seg' not in sample or 'seg_logits' not in sample:
                raise KeyError('val_cfg.compute_loss=True needs seg_logits and '
                               'gt_sem_seg in every prediction: load labels in the val '
                               'pipeline (LoadAnnotations)')
            label = sample.gt_sem_seg.data.long()  # (1, H', W')
            logits = sample.seg_logits.data[None].float()  # (1, C, H, W)
            if logits.shape[2:] != label.shape[1:]:
                logits = F.interpolate(logits, size=label.shape[1:], mode='bilinear',
                                       align_corners=False)
            for loss_fn in self.losses:
                value = loss_fn(logits, label, weight=None, ignore_index=self.ignore_index)
                key = f'decode.{loss_fn.loss_name}'
                total = sums.setdefault(key, torch.zeros(2, dtype=torch.float64,
                                                         device=value.device))
                total += torch.stack([value.detach().double(), total.new_ones(())])
        for total in sums.values():
            all_reduce(total, op='sum')
        return sums


def per_class_scalars(metrics: Sequence) -> Dict[str, float]:
    """``{'IoU.<class>': value, ...}`` of every metric that has ``per_class_results``.

    Args:
        metrics (Sequence[BaseMetric]): the evaluator's metrics.

    Returns:
        dict[str, float]: one scalar per value kind and class (NaN for classes absent
        from both labels and predictions), in percent.
    """
    scalars: Dict[str, float] = {}
    for metric in metrics:
        for kind, values in (getattr(metric, 'per_class_results', None) or {}).items():
            for name, value in values.items():
                scalars[f'{kind}.{name}'] = float(value) if value is not None else math.nan
    return scalars
