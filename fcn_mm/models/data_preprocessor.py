"""SegDataPreProcessor: batch images (and labels) for segmentation models."""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from fcn_mm.registry import MODELS
from fcn_mm.utils.typing_utils import OptSampleList

__all__ = ['SegDataPreProcessor', 'stack_batch']


def _padding(shape: Tuple[int, int], size: Optional[Sequence[int]],
             target: Optional[Tuple[int, int]]) -> Tuple[int, int, int, int]:
    """(left, right, top, bottom) padding of an (H, W) image to ``size``/``target``."""
    goal = size if size is not None else target
    if goal is None:
        return (0, 0, 0, 0)
    return (0, max(int(goal[-1]) - shape[1], 0), 0, max(int(goal[-2]) - shape[0], 0))


def stack_batch(inputs: List[torch.Tensor], data_samples: OptSampleList = None,
                size: Optional[Sequence[int]] = None, size_divisor: Optional[int] = None,
                pad_val: float = 0, seg_pad_val: int = 255) -> Tuple[torch.Tensor, list]:
    """Pad (bottom/right) and stack images, and pad their ``gt_sem_seg`` alike.

    Images go to ``size`` (H, W) or to the batch's largest size rounded up to a
    multiple of ``size_divisor``; without either they are stacked as they are.

    Args:
        inputs (list[Tensor]): images (C, H_i, W_i).
        data_samples (list[SegDataSample], optional): their samples; ``gt_sem_seg``
            is padded with ``seg_pad_val`` and ``img_shape``, ``pad_shape``,
            ``padding_size`` are set in their metainfo.
        size (Sequence[int], optional): target (H, W).
        size_divisor (int, optional): padded sizes are multiples of this.
        pad_val (float): image padding value. Defaults to 0.
        seg_pad_val (int): label padding value. Defaults to 255.

    Returns:
        tuple[Tensor, list]: (N, C, H, W) batch; the data samples, or (without
        them) dicts with ``img_padding_size`` and ``pad_shape``.
    """
    if size is not None and size_divisor is not None:
        raise ValueError('data_preprocessor: set only one of size and size_divisor, got '
                         f'size={size!r}, size_divisor={size_divisor!r}')
    target = None
    if size_divisor is not None and size_divisor > 1:
        max_h = max(img.shape[-2] for img in inputs)
        max_w = max(img.shape[-1] for img in inputs)
        target = (-(-max_h // size_divisor) * size_divisor,
                  -(-max_w // size_divisor) * size_divisor)
    elif size_divisor is not None:
        target = (max(img.shape[-2] for img in inputs), max(img.shape[-1] for img in inputs))
    padded, samples = [], []
    for i, img in enumerate(inputs):
        padding = _padding(tuple(img.shape[-2:]), size, target)
        padded.append(F.pad(img, padding, value=pad_val))
        if data_samples is None:
            samples.append(dict(img_padding_size=padding, pad_shape=padded[-1].shape[-2:]))
            continue
        sample, pad_shape = data_samples[i], None
        if 'gt_sem_seg' in sample:
            gt = sample.gt_sem_seg.data
            del sample.gt_sem_seg.data
            sample.gt_sem_seg.data = F.pad(gt, padding, value=seg_pad_val)
            pad_shape = sample.gt_sem_seg.shape
        sample.set_metainfo(dict(img_shape=img.shape[-2:], pad_shape=pad_shape,
                                 padding_size=padding))
        samples.append(sample)
    shapes = {tuple(t.shape) for t in padded}
    if len(shapes) > 1:
        raise ValueError(
            f'data_preprocessor: images of different sizes {sorted(shapes)} cannot be '
            'stacked; set model.data_preprocessor.size=(H, W) (e.g. the crop size) or '
            'size_divisor, or make the pipeline produce one size')
    return torch.stack(padded, dim=0), samples


@MODELS.register_module()
class SegDataPreProcessor(BaseDataPreprocessor):
    """Moves data to the device, converts BGR/RGB, normalises, pads and stacks.

    Training: images and ``gt_sem_seg`` are padded to ``size`` or to a multiple of
    ``size_divisor`` (``pad_val``/``seg_pad_val``), and ``img_shape``, ``pad_shape``,
    ``padding_size`` are set in the metainfo. Testing: images of one size are
    stacked; with ``test_cfg=dict(size=...)`` or ``dict(size_divisor=...)`` they are
    padded and ``img_padding_size``/``pad_shape`` are recorded (the segmentor crops
    the padding off again).

    Args:
        mean (Sequence[float], optional): per-channel mean (after channel conversion).
        std (Sequence[float], optional): per-channel std.
        size (tuple[int, int], optional): training pad size (H, W).
        size_divisor (int, optional): training pad divisor.
        pad_val (float): image pad value. Defaults to 0.
        seg_pad_val (float): label pad value. Defaults to 255.
        bgr_to_rgb (bool): flip channel order of 3-channel images. Defaults to False.
        rgb_to_bgr (bool): same flip, the other way round. Defaults to False.
        batch_augments (list[dict], optional): not supported; must be None.
        test_cfg (dict, optional): ``size``/``size_divisor`` for testing.
        non_blocking (bool): non-blocking device transfer. Defaults to False.
    """

    def __init__(self, mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 size: Optional[Sequence[int]] = None, size_divisor: Optional[int] = None,
                 pad_val: float = 0, seg_pad_val: float = 255, bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False, batch_augments: Optional[List[dict]] = None,
                 test_cfg: Optional[dict] = None, non_blocking: bool = False):
        super().__init__(non_blocking)
        if bgr_to_rgb and rgb_to_bgr:
            raise ValueError('data_preprocessor: bgr_to_rgb and rgb_to_bgr cannot both be True')
        if (mean is None) != (std is None):
            raise ValueError('data_preprocessor: give both mean and std, or neither; got '
                             f'mean={mean!r}, std={std!r}')
        if size is not None and size_divisor is not None:
            raise ValueError('data_preprocessor: set only one of size and size_divisor')
        if batch_augments is not None:
            raise ValueError('data_preprocessor.batch_augments is not supported by fcn_mm; '
                             'set it to None')
        self.size, self.size_divisor = size, size_divisor
        self.pad_val, self.seg_pad_val = pad_val, seg_pad_val
        self.channel_conversion = bgr_to_rgb or rgb_to_bgr
        self._enable_normalize = mean is not None
        if mean is not None:
            if len(mean) not in (1, 3) or len(std) not in (1, 3):
                raise ValueError('data_preprocessor.mean/std need 1 or 3 values, got '
                                 f'{list(mean)} and {list(std)}')
            self.register_buffer('mean', torch.tensor(mean).view(-1, 1, 1), False)
            self.register_buffer('std', torch.tensor(std).view(-1, 1, 1), False)
        self.batch_augments = None
        self.test_cfg = test_cfg

    def forward(self, data: Dict[str, Any], training: bool = False) -> Dict[str, Any]:
        """Preprocess a collated batch.

        Args:
            data (dict): ``inputs`` (list of (C, H, W) uint8/float tensors, or an
                (N, C, H, W) tensor) and ``data_samples`` (list of SegDataSample).
            training (bool): pad/stack with labels (True) or for testing.

        Returns:
            dict: ``inputs`` (N, C, H', W') float and ``data_samples``.
        """
        data = self.cast_data(data)
        inputs = list(data['inputs'])
        data_samples: OptSampleList = data.get('data_samples', None)
        if self.channel_conversion and inputs[0].size(0) == 3:
            inputs = [img[[2, 1, 0], ...] for img in inputs]
        inputs = [img.float() for img in inputs]
        if self._enable_normalize:
            inputs = [(img - self.mean) / self.std for img in inputs]
        if training:
            if data_samples is None:
                raise ValueError('data_preprocessor: training batches need data_samples '
                                 'with gt_sem_seg')
            batch, data_samples = stack_batch(inputs, data_samples, self.size,
                                              self.size_divisor, self.pad_val,
                                              self.seg_pad_val)
        else:
            batch, data_samples = self._stack_test(inputs, data_samples)
        return dict(inputs=batch, data_samples=data_samples)

    def _stack_test(self, inputs: List[torch.Tensor],
                    data_samples: OptSampleList) -> Tuple[torch.Tensor, OptSampleList]:
        if not self.test_cfg:
            shapes = {tuple(img.shape) for img in inputs}
            if len(shapes) > 1:
                raise ValueError(
                    f'data_preprocessor: test images of different sizes {sorted(shapes)} '
                    'in one batch; use batch_size=1 or set data_preprocessor.test_cfg='
                    'dict(size_divisor=...)')
            return torch.stack(inputs, dim=0), data_samples
        batch, pad_infos = stack_batch(inputs, None, self.test_cfg.get('size', None),
                                       self.test_cfg.get('size_divisor', None),
                                       self.pad_val, self.seg_pad_val)
        if data_samples is not None:
            for sample, info in zip(data_samples, pad_infos):
                sample.set_metainfo(dict(info))
        return batch, data_samples
