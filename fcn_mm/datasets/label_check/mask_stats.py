"""Read what the label check needs from one mask and one image, without colour conversion.

Masks are opened with PIL and never converted: a 'P' (palette) PNG gives its pixel
indices, an 'RGB' PNG its colours, so the two are told apart (OpenCV would expand a
palette PNG to colours). Images are only opened for their size (the header).
"""
import os.path as osp
from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np
from PIL import Image

__all__ = ['INDEX_MODES', 'MaskStats', 'read_mask_stats', 'read_image_size']

# the PIL modes whose pixel values are class indices (what LoadAnnotations reads)
INDEX_MODES = ('P', 'L', 'I', 'I;16')
_EXIF_ORIENTATION = 0x0112
_EXIF_FORMATS = ('JPEG', 'MPO')  # where decoders apply the EXIF orientation
_MAX_COLOURS = 8


@dataclass
class MaskStats:
    """One mask as the label check sees it.

    Args:
        path (str): the mask file.
        mode (str): its PIL mode (``'P'``, ``'L'``, ``'RGB'`` ...).
        size (tuple[int, int]): (H, W).
        counts (np.ndarray | None): pixel count of each raw value (index modes only),
            length >= 256.
        colours (list[tuple[tuple[int, ...], int]] | None): the most frequent colours
            and their pixel counts (multi-channel modes only).
        error (str | None): why the file cannot be read (then the rest is empty).
    """

    path: str
    mode: str = ''
    size: Tuple[int, int] = (0, 0)
    counts: Optional[np.ndarray] = None
    colours: Optional[list] = None
    error: Optional[str] = None

    @property
    def values(self) -> np.ndarray:
        """The raw values present (index modes), ascending."""
        return np.flatnonzero(self.counts) if self.counts is not None else np.zeros(0, int)


def read_mask_stats(path: str) -> MaskStats:
    """Open a mask file and count its values (or colours).

    Args:
        path (str): the mask file.

    Returns:
        MaskStats: with ``error`` set if the file cannot be decoded.
    """
    try:
        with Image.open(path) as pil:
            mode = pil.mode
            array = np.asarray(pil)
    except Exception as e:  # PIL raises several types for broken files
        return MaskStats(path, error=f'cannot be decoded ({type(e).__name__}: {e})')
    size = tuple(array.shape[:2])
    if mode in INDEX_MODES:
        flat = array.ravel()
        if flat.size and flat.min() < 0:
            return MaskStats(path, mode, size,
                             error=f'holds negative values (down to {int(flat.min())})')
        return MaskStats(path, mode, size, counts=_value_counts(array))
    if array.ndim == 2:  # '1' (bilevel) and other one-channel modes
        return MaskStats(path, mode, size, colours=_top_colours(array[..., None]))
    return MaskStats(path, mode, size, colours=_top_colours(array))


def _value_counts(array: np.ndarray) -> np.ndarray:
    """Pixel count of each value 0..max (at least 256 entries), int64."""
    if array.dtype == np.uint8 and array.ndim == 2 and array.size:
        # OpenCV's histogram: a third of bincount's time on a 1024x2048 mask (float32
        # counts, exact up to 2**24 pixels per value, and never 0 for a value present)
        hist = cv2.calcHist([np.ascontiguousarray(array)], [0], None, [256], [0, 256])
        return np.rint(hist.ravel()).astype(np.int64)
    return np.bincount(array.ravel().astype(np.int64), minlength=256)


def _top_colours(array: np.ndarray) -> list:
    """The most frequent pixel values of an (H, W, C) array, with their counts."""
    pixels = array.reshape(-1, array.shape[-1]).astype(np.int64)
    codes = np.zeros(len(pixels), np.int64)
    for c in range(pixels.shape[1]):
        codes = (codes << 16) | pixels[:, c]
    uniq, counts = np.unique(codes, return_counts=True)
    order = np.argsort(-counts, kind='stable')[:_MAX_COLOURS]
    channels = pixels.shape[1]
    result = []
    for i in order:
        code = int(uniq[i])
        colour = tuple((code >> (16 * (channels - 1 - c))) & 0xFFFF for c in range(channels))
        result.append((colour, int(counts[i])))
    return result


def read_image_size(path: str) -> Tuple[Tuple[int, int], bool]:
    """The (H, W) that ``LoadImageFromFile`` will see, from the header only.

    OpenCV (and so ``LoadImageFromFile``) applies the EXIF orientation: for
    orientations 5..8 the decoded image has the header's width as its height.

    Args:
        path (str): the image file.

    Returns:
        tuple: ``((H, W), rotated)``; ``rotated`` is True when the EXIF orientation
        swapped the header's width and height.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Image file not found: {path}')
    with Image.open(path) as pil:
        width, height = pil.size
        orientation = 1
        if pil.format in _EXIF_FORMATS:  # (PNG's getexif would decode the whole image)
            try:
                orientation = pil.getexif().get(_EXIF_ORIENTATION, 1)
            except Exception:  # a broken EXIF block: the loader will not rotate either
                orientation = 1
    if orientation in (5, 6, 7, 8):
        return (width, height), True
    return (height, width), False
