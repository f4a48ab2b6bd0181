"""Photometric transforms (image only; labels are never read or written)."""
from typing import Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from fcn_mm.registry import TRANSFORMS

__all__ = ['PhotoMetricDistortion']

_VALUES = np.arange(256, dtype=np.float32)


def _linear_lut(alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """uint8 table of ``clip(v * alpha + beta, 0, 255)`` computed in float32 and
    truncated to uint8, i.e. exactly the per-pixel float formula."""
    return np.clip(_VALUES * np.float32(alpha) + np.float32(beta), 0, 255).astype(np.uint8)


@TRANSFORMS.register_module()
class PhotoMetricDistortion(BaseTransform):
    """MMSegmentation's photometric distortion of a BGR uint8 image.

    Each step happens with probability 0.5, in this order:

    1. brightness: ``v + delta``, ``delta ~ U(-brightness_delta, brightness_delta)``;
    2. contrast (first or last, chosen with probability 0.5):
       ``v * alpha``, ``alpha ~ U(*contrast_range)``;
    3. saturation: in HSV, ``S * alpha``, ``alpha ~ U(*saturation_range)``;
    4. hue: in HSV, ``H = (H + d) mod 180``, ``d`` an integer in
       ``[-hue_delta, hue_delta)``;

    each result clipped to 0..255 and truncated to uint8. Every step is a per-value
    map, so it runs as a lookup table on the uint8 image in place (brightness and a
    following contrast share one table; saturation and hue share one HSV round trip).
    Non-uint8 images are clipped and converted to uint8 first.

    Reads: ``img`` (H, W, 3) BGR. Writes: ``img`` (same shape, uint8). Labels
    (``gt_seg_map``) are neither read nor written.

    Args:
        brightness_delta (int): Defaults to 32.
        contrast_range (tuple[float, float]): Defaults to (0.5, 1.5).
        saturation_range (tuple[float, float]): Defaults to (0.5, 1.5).
        hue_delta (int): Defaults to 18.
    """

    def __init__(self, brightness_delta: int = 32,
                 contrast_range: Sequence[float] = (0.5, 1.5),
                 saturation_range: Sequence[float] = (0.5, 1.5),
                 hue_delta: int = 18) -> None:
        for name, rng in (('contrast_range', contrast_range),
                          ('saturation_range', saturation_range)):
            if len(rng) != 2 or not 0 <= rng[0] <= rng[1]:
                raise ValueError(f'PhotoMetricDistortion.{name} must be (low, high) '
                                 f'with 0 <= low <= high, got {rng}')
        self.brightness_delta = brightness_delta
        self.contrast_lower, self.contrast_upper = contrast_range
        self.saturation_lower, self.saturation_upper = saturation_range
        self.hue_delta = hue_delta

    def _brightness_lut(self):
        if np.random.randint(2):
            delta = np.random.uniform(-self.brightness_delta, self.brightness_delta)
            return _linear_lut(beta=delta)
        return None

    def _contrast_lut(self):
        if np.random.randint(2):
            return _linear_lut(
                alpha=np.random.uniform(self.contrast_lower, self.contrast_upper))
        return None

    def _hsv_lut(self):
        """(1, 256, 3) table over HSV channels, or None when neither step fires."""
        sat = hue = None
        if np.random.randint(2):
            sat = _linear_lut(
                alpha=np.random.uniform(self.saturation_lower, self.saturation_upper))
        if np.random.randint(2):
            delta = np.random.randint(-self.hue_delta, self.hue_delta)
            hue = ((np.arange(256) + delta) % 180).astype(np.uint8)
        if sat is None and hue is None:
            return None
        identity = np.arange(256, dtype=np.uint8)
        table = np.stack([identity if hue is None else hue,
                          identity if sat is None else sat, identity], axis=-1)
        return np.ascontiguousarray(table[None])

    def transform(self, results: dict) -> dict:
        """Distort ``results['img']``.

        Args:
            results (dict): with ``img`` (H, W, 3) BGR.

        Returns:
            dict: ``results`` with the distorted uint8 ``img``.
        """
        img = results['img']
        if img.dtype != np.uint8:
            img = np.clip(img, 0, 255).astype(np.uint8)
        img = np.ascontiguousarray(img)
        if not img.flags.writeable:
            img = img.copy()
        first = self._brightness_lut()
        contrast_first = np.random.randint(2) == 1
        if contrast_first:
            contrast = self._contrast_lut()
            if contrast is not None:
                first = contrast if first is None else contrast[first]
        if first is not None:
            cv2.LUT(img, first, dst=img)
        hsv_table = self._hsv_lut()
        if hsv_table is not None:
            hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
            cv2.LUT(hsv, hsv_table, dst=hsv)
            cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR, dst=img)
        if not contrast_first:
            contrast = self._contrast_lut()
            if contrast is not None:
                cv2.LUT(img, contrast, dst=img)
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(brightness_delta={self.brightness_delta}, '
                f'contrast_range=({self.contrast_lower}, {self.contrast_upper}), '
                f'saturation_range=({self.saturation_lower}, {self.saturation_upper}), '
                f'hue_delta={self.hue_delta})')
