"""Geometric transforms: image and label always move together; labels use nearest."""
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import Pad as _MMCVPad
from mmcv.transforms import RandomFlip as _MMCVRandomFlip
from mmcv.transforms import RandomResize as _MMCVRandomResize
from mmcv.transforms import Resize as _MMCVResize
from mmcv.transforms.utils import cache_randomness

from fcn_mm.registry import TRANSFORMS

__all__ = ['Resize', 'RandomResize', 'RandomCrop', 'RandomFlip', 'Pad']

# 'nearest' is OpenCV's centre-aligned INTER_NEAREST_EXACT (as PIL's nearest):
# legacy INTER_NEAREST samples floor(x * scale), up to half a source pixel off the
# grid INTER_LINEAR uses, which would shift labels against the image.
_LABEL_INTERP = cv2.INTER_NEAREST_EXACT
_CV2_INTERP = {'nearest': _LABEL_INTERP, 'bilinear': cv2.INTER_LINEAR,
               'bicubic': cv2.INTER_CUBIC, 'area': cv2.INTER_AREA,
               'lanczos': cv2.INTER_LANCZOS4}
_FLIP_CODES = {'horizontal': 1, 'vertical': 0, 'diagonal': -1}


def _seg_keys(results: dict) -> list:
    """Label maps present in ``results`` (``gt_seg_map`` and any ``seg_fields``)."""
    keys = [k for k in results.get('seg_fields', []) if results.get(k) is not None]
    if results.get('gt_seg_map') is not None and 'gt_seg_map' not in keys:
        keys.append('gt_seg_map')
    return keys


def _rescaled_size(w: int, h: int, scale: Tuple[int, int]) -> Tuple[int, int]:
    """Keep-ratio target (w, h): long side <= max(scale), short side <= min(scale)."""
    factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    return int(w * factor + 0.5), int(h * factor + 0.5)


@TRANSFORMS.register_module()
class Resize(_MMCVResize):
    """Resize image (``interpolation``) and labels (nearest) to the same size.

    Labels use centre-aligned nearest (``cv2.INTER_NEAREST_EXACT``), so a label pixel
    comes from the source pixel nearest to where the image pixel was sampled.

    ``scale`` is (w, h). With ``keep_ratio`` the image is rescaled so that its long
    side is <= ``max(scale)`` and its short side <= ``min(scale)`` (as mmcv's
    ``imrescale``); ``scale_factor`` scales the current size instead.

    Reads: ``img``, ``gt_seg_map`` and ``seg_fields`` maps (optional), ``scale``
    (set by RandomResize). Writes: ``img``, the label maps, ``img_shape``,
    ``scale``, ``scale_factor`` (w, h), ``keep_ratio``.

    Args:
        scale (int | tuple[int, int], optional): target (w, h).
        scale_factor (float | tuple[float, float], optional): ratio to the input.
        keep_ratio (bool): Defaults to False.
        interpolation (str): image interpolation. Defaults to ``'bilinear'``.
        backend (str): only ``'cv2'`` is implemented here; kept for config
            compatibility. Defaults to ``'cv2'``.
    """

    def transform(self, results: dict) -> dict:
        """Resize ``results`` in place.

        Args:
            results (dict): see the class docstring.

        Returns:
            dict: resized ``results``.
        """
        img = results['img']
        h, w = img.shape[:2]
        if self.scale:
            results['scale'] = tuple(self.scale)
        else:
            fw, fh = self.scale_factor
            results['scale'] = (int(w * fw + 0.5), int(h * fh + 0.5))
        if self.keep_ratio:
            new_w, new_h = _rescaled_size(w, h, results['scale'])
        else:
            new_w, new_h = results['scale']
        if (new_w, new_h) != (w, h):
            interp = _CV2_INTERP[self.interpolation]
            results['img'] = cv2.resize(img, (new_w, new_h), interpolation=interp)
            for key in _seg_keys(results):
                results[key] = cv2.resize(results[key], (new_w, new_h),
                                          interpolation=_LABEL_INTERP)
        results['img_shape'] = (new_h, new_w)
        results['scale_factor'] = (new_w / w, new_h / h)
        results['keep_ratio'] = self.keep_ratio
        return results


@TRANSFORMS.register_module()
class RandomResize(_MMCVRandomResize):
    """Resize to ``scale`` times a ratio drawn from ``ratio_range`` (or to a scale
    drawn between two scales), through fcn_mm's ``Resize``.

    Reads and writes: as :class:`Resize` (``scale`` is the drawn target).

    Args:
        scale (tuple[int, int] | list[tuple]): base (w, h), or [low, high] scales.
        ratio_range (tuple[float, float], optional): (min, max) ratio.
        resize_type (str): transform type used to resize. Defaults to ``'Resize'``.
        **resize_kwargs: e.g. ``keep_ratio=True``.
    """

    def __init__(self, scale: Union[Tuple[int, int], Sequence[Tuple[int, int]]],
                 ratio_range: Optional[Tuple[float, float]] = None,
                 resize_type: str = 'Resize', **resize_kwargs) -> None:
        if ratio_range is not None and (len(ratio_range) != 2
                                        or ratio_range[0] > ratio_range[1]):
            raise ValueError(f'RandomResize.ratio_range must be (min, max) with '
                             f'min <= max, got {ratio_range}')
        self.scale = tuple(scale) if isinstance(scale, list) and isinstance(
            scale[0], int) else scale
        self.ratio_range = ratio_range
        self.resize_cfg = dict(type=resize_type, **resize_kwargs)
        self.resize = TRANSFORMS.build({'scale': 0, **self.resize_cfg})


@TRANSFORMS.register_module()
class RandomCrop(BaseTransform):
    """Random crop of ``crop_size`` (h, w), preferring crops that are not one class.

    Up to 10 random positions are tried; the first where, ignoring
    ``ignore_index``, at least two classes appear and the largest class covers
    less than ``cat_max_ratio`` of the labelled pixels is taken, otherwise the last
    one tried. ``cat_max_ratio >= 1`` takes the first. An image smaller than
    ``crop_size`` along an axis is kept whole along it.

    Reads: ``img``, ``gt_seg_map`` and ``seg_fields`` maps. Writes: ``img``, the
    label maps, ``img_shape``.

    Args:
        crop_size (int | tuple[int, int]): (h, w).
        cat_max_ratio (float): Defaults to 0.75.
        ignore_index (int): Defaults to 255.
    """

    def __init__(self, crop_size: Union[int, Tuple[int, int]],
                 cat_max_ratio: float = 0.75, ignore_index: int = 255) -> None:
        if isinstance(crop_size, int):
            crop_size = (crop_size, crop_size)
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(f'RandomCrop.crop_size must be positive (h, w), got '
                             f'{crop_size}')
        self.crop_size = tuple(crop_size)
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    def _random_box(self, h: int, w: int) -> Tuple[int, int, int, int]:
        top = np.random.randint(0, max(h - self.crop_size[0], 0) + 1)
        left = np.random.randint(0, max(w - self.crop_size[1], 0) + 1)
        return top, top + self.crop_size[0], left, left + self.crop_size[1]

    def _acceptable(self, label: np.ndarray) -> bool:
        counts = np.bincount(label.ravel())
        if self.ignore_index < counts.size:
            counts[self.ignore_index] = 0
        present = counts[counts > 0]
        return present.size > 1 and present.max() < self.cat_max_ratio * present.sum()

    @cache_randomness
    def crop_bbox(self, results: dict) -> Tuple[int, int, int, int]:
        """Choose the crop box (y1, y2, x1, x2) by the rule above.

        Args:
            results (dict): with ``img`` and (optionally) ``gt_seg_map``.

        Returns:
            tuple[int, int, int, int]: y1, y2, x1, x2.
        """
        h, w = results['img'].shape[:2]
        label = results.get('gt_seg_map')
        box = self._random_box(h, w)
        if label is None or self.cat_max_ratio >= 1:
            return box
        for attempt in range(10):
            if attempt:
                box = self._random_box(h, w)
            y1, y2, x1, x2 = box
            if self._acceptable(label[y1:y2, x1:x2]):
                break
        return box

    def transform(self, results: dict) -> dict:
        """Crop image and labels with one box.

        Args:
            results (dict): see the class docstring.

        Returns:
            dict: cropped ``results``.
        """
        y1, y2, x1, x2 = self.crop_bbox(results)
        results['img'] = results['img'][y1:y2, x1:x2]
        for key in _seg_keys(results):
            results[key] = results[key][y1:y2, x1:x2]
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(crop_size={self.crop_size}, '
                f'cat_max_ratio={self.cat_max_ratio}, ignore_index={self.ignore_index})')


@TRANSFORMS.register_module()
class RandomFlip(_MMCVRandomFlip):
    """Flip image and labels together with probability ``prob``.

    Reads: ``img``, ``gt_seg_map`` and ``seg_fields`` maps. Writes: ``img``, the
    label maps, ``flip`` (bool), ``flip_direction`` (str or None).

    Args:
        prob (float | list[float]): flip probability (per direction for a list).
        direction (str | list[str]): ``'horizontal'``, ``'vertical'`` or
            ``'diagonal'``. Defaults to ``'horizontal'``.
    """

    def _flip(self, results: dict) -> None:
        code = _FLIP_CODES[results['flip_direction']]
        results['img'] = cv2.flip(np.ascontiguousarray(results['img']), code)
        for key in _seg_keys(results):
            results[key] = cv2.flip(np.ascontiguousarray(results[key]), code)


@TRANSFORMS.register_module()
class Pad(_MMCVPad):
    """Pad image (``pad_val['img']``, default 0) and labels (``pad_val['seg']``,
    default 255) at the bottom and right, to ``size`` (w, h) or a multiple of
    ``size_divisor``.

    Reads: ``img``, ``gt_seg_map`` and ``seg_fields`` maps. Writes: ``img``, the label
    maps, ``img_shape``, ``pad_shape``, ``pad_fixed_size``, ``pad_size_divisor``.

    Args:
        size (tuple[int, int], optional): (w, h).
        size_divisor (int, optional): pad to a multiple of this.
        pad_val (int | dict): Defaults to ``dict(img=0, seg=255)``.
        padding_mode (str): Defaults to ``'constant'``.
    """

    def _pad_seg(self, results: dict) -> None:
        target = results['pad_shape'][:2]
        seg_val = self.pad_val.get('seg', 255)
        for key in _seg_keys(results):
            label = results[key]
            bottom, right = target[0] - label.shape[0], target[1] - label.shape[1]
            if bottom <= 0 and right <= 0:
                continue
            pad = ((0, max(bottom, 0)), (0, max(right, 0)))
            if self.padding_mode == 'constant':
                results[key] = np.pad(label, pad, constant_values=seg_val)
            else:
                results[key] = np.pad(label, pad, mode=self.padding_mode)
