"""Loading transforms: images with OpenCV, label PNGs with PIL (class indices)."""
import io
import os.path as osp
from typing import Optional

import cv2
import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms import LoadImageFromFile as _MMCVLoadImageFromFile
from mmengine import fileio
from PIL import Image

from fcn_mm.registry import TRANSFORMS

__all__ = ['LoadImageFromFile', 'LoadAnnotations']

VOID = 255
_LABEL_MODES = ('P', 'L', 'I', 'I;16')


def _read_bytes(path: str, what: str, backend_args: Optional[dict]) -> bytes:
    """Read a file, raising FileNotFoundError that names it and what it is."""
    if backend_args is None and not osp.isfile(path):
        raise FileNotFoundError(f'{what} file not found: {path}')
    try:
        return fileio.get(path, backend_args=backend_args)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'{what} file not found: {path}') from e


def _jpeg_truncated(data: bytes) -> bool:
    """True for JPEG data without an end-of-image marker near its end."""
    if data[:2] != b'\xff\xd8':
        return False
    return data.rfind(b'\xff\xd9', max(0, len(data) - 4096)) < 0


@TRANSFORMS.register_module()
class LoadImageFromFile(_MMCVLoadImageFromFile):
    """Load an image (BGR, uint8 unless ``to_float32``) with clear errors.

    Reads: ``img_path``. Writes: ``img`` (H, W, 3), ``img_shape``, ``ori_shape``.

    Raises FileNotFoundError for a missing file and ValueError for a file that cannot
    be decoded or a JPEG that is truncated (OpenCV would silently return a partly
    grey image), each naming the file. ``ignore_empty=True`` returns None instead.

    Args:
        to_float32 (bool): return float32. Defaults to False.
        color_type (str): ``mmcv.imfrombytes`` flag. Defaults to ``'color'``.
        imdecode_backend (str): Defaults to ``'cv2'``.
        ignore_empty (bool): return None for missing/undecodable files.
        backend_args (dict, optional): file backend arguments.
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']``.

        Args:
            results (dict): with ``img_path``.

        Returns:
            dict | None: ``results`` with ``img``, ``img_shape``, ``ori_shape``.
        """
        path = results['img_path']
        try:
            data = _read_bytes(path, 'Image', self.backend_args)
            img = mmcv.imfrombytes(data, flag=self.color_type,
                                   backend=self.imdecode_backend)
            if img is None or img.size == 0:
                raise ValueError(f'Image file cannot be decoded (corrupt or not an '
                                 f'image): {path}')
            if _jpeg_truncated(data):
                raise ValueError(f'Image file is truncated (JPEG without end marker): '
                                 f'{path}')
        except (FileNotFoundError, ValueError):
            if self.ignore_empty:
                return None
            raise
        except Exception as e:  # decoder errors of the PIL/turbojpeg backends
            if self.ignore_empty:
                return None
            raise ValueError(f'Image file cannot be decoded: {path} ({e})') from e
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadAnnotations(BaseTransform):
    """Load a label PNG as class indices (PIL, never colours).

    'P' (palette) and 'L' (grey) PNGs both decode to their pixel indices; RGB label
    images are rejected. Values must be class indices ``< num_classes`` or 255
    (void). With ``reduce_zero_label``, 0 becomes 255 and every other value ``v``
    becomes ``v - 1`` before the check; then ``label_map`` (old index -> new index,
    set by a dataset whose config picks a subset of its classes) is applied.

    Reads: ``seg_map_path``, ``num_classes`` (if the arg is None), ``reduce_zero_label``
    (if the arg is None), ``label_map`` (if present), ``ori_shape`` (if present, from ``LoadImageFromFile``).
    Writes: ``gt_seg_map`` (H, W) uint8, ``seg_fields`` (appends ``'gt_seg_map'``),
    ``reduce_zero_label``.

    Args:
        reduce_zero_label (bool, optional): None takes it from ``results``
            (the dataset's setting). Defaults to None.
        num_classes (int, optional): None takes ``results['num_classes']`` (the
            dataset's ``len(metainfo['classes'])``). Defaults to None.
        backend_args (dict, optional): file backend arguments.
    """

    def __init__(self, reduce_zero_label: Optional[bool] = None,
                 num_classes: Optional[int] = None,
                 backend_args: Optional[dict] = None) -> None:
        self.reduce_zero_label = reduce_zero_label
        self.num_classes = num_classes
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        """Load ``results['seg_map_path']`` into ``results['gt_seg_map']``.

        Args:
            results (dict): see the class docstring.

        Returns:
            dict: ``results`` with ``gt_seg_map`` (H, W) uint8.
        """
        path = results['seg_map_path']
        label = self._decode(_read_bytes(path, 'Label', self.backend_args), path)
        reduce = self.reduce_zero_label
        if reduce is None:
            reduce = bool(results.get('reduce_zero_label', False))
        if reduce:
            label = label - np.uint8(1)  # 0 wraps to 255; 255 -> 254 fixed below
            label[label == VOID - 1] = VOID
        label_map = results.get('label_map')
        if label_map:
            lut = np.arange(VOID + 1, dtype=np.uint8)
            for old, new in label_map.items():
                lut[old] = new
            label = lut[label]
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and tuple(ori_shape[:2]) != label.shape:
            raise ValueError(
                f'Label {path} has size (H, W)={label.shape} but image '
                f'{results.get("img_path")} has {tuple(ori_shape[:2])}: they must match.')
        self._check_values(label, path, results, reduce)
        results['gt_seg_map'] = label
        results.setdefault('seg_fields', []).append('gt_seg_map')
        results['reduce_zero_label'] = reduce
        return results

    @staticmethod
    def _decode(data: bytes, path: str) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(data)) as pil:
                mode = pil.mode
                if mode not in _LABEL_MODES:
                    raise ValueError(
                        f'Label {path} is a "{mode}" image; expected a one-channel '
                        '"P" (palette) or "L" PNG whose pixel values are class '
                        'indices (colour label images are not supported).')
                label = np.asarray(pil)
        except ValueError:
            raise
        except Exception as e:  # PIL: UnidentifiedImageError, truncated file OSError
            raise ValueError(f'Label file cannot be decoded (corrupt or truncated): '
                             f'{path} ({e})') from e
        if label.dtype != np.uint8:
            if label.size and (label.min() < 0 or label.max() > VOID):
                raise ValueError(f'Label {path} ({mode}) has values outside 0..255.')
            label = label.astype(np.uint8)
        elif not label.flags.writeable:
            label = label.copy()
        return label

    def _check_values(self, label: np.ndarray, path: str, results: dict,
                      reduce: bool) -> None:
        num_classes = self.num_classes or results.get('num_classes')
        if not num_classes:
            raise KeyError(
                'LoadAnnotations needs the number of classes to check label values: '
                'use a dataset with metainfo["classes"] or pass num_classes=.')
        if num_classes >= VOID or label.size == 0:
            return
        bad_lut = np.zeros(VOID + 1, np.uint8)
        bad_lut[num_classes:VOID] = 1
        if not cv2.countNonZero(cv2.LUT(label, bad_lut)):  # fast path: all valid
            return
        counts = np.bincount(label.ravel(), minlength=VOID + 1)
        bad = np.flatnonzero(counts[num_classes:VOID]) + num_classes
        note = ' after reduce_zero_label' if reduce else ''
        raise ValueError(
            f'Label {path} has values{note} {bad.tolist()[:20]} that are neither a '
            f'class index < {num_classes} nor 255 (void).')

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(reduce_zero_label={self.reduce_zero_label}, '
                f'num_classes={self.num_classes})')
