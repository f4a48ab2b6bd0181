"""8-bit palette ('P' mode) label PNGs, the VOC convention for label and prediction files.

The one writer of label maps in fcn_mm: the pixel value is the class index (0..255) and the
palette holds the dataset's colours followed by the VOC colour map
(:func:`~fcn_mm.utils.palette.flat_palette`). ``IoUMetric(format_only=True)``,
``SegPredictionSaveHook`` (``tools/test.py --out``), the demo data and the SBD converter
write through it.
"""
import os.path as osp
from typing import Any, Optional, Sequence

import numpy as np
from PIL import Image

from .misc import to_numpy
from .palette import flat_palette

__all__ = ['save_label_png', 'save_prediction_png']

Palette = Optional[Sequence[Sequence[int]]]


def save_label_png(label: Any, out_file: str, palette: Palette = None) -> str:
    """Write a label map as an 8-bit 'P' PNG whose pixel values are the class indices.

    Args:
        label (np.ndarray | Tensor): (H, W) or (1, H, W) class indices in 0..255.
        out_file (str): the PNG path (its folder must exist).
        palette (Sequence[Sequence[int]], optional): RGB colour of each class; the VOC
            colour map fills the other entries. Defaults to the VOC colour map.

    Returns:
        str: ``out_file``.

    Raises:
        ValueError: ``label`` is not (H, W), or holds values outside 0..255 (the message
            names ``out_file``).
    """
    label = to_numpy(label)
    if label.ndim == 3 and label.shape[0] == 1:
        label = label[0]
    if label.ndim != 2:
        raise ValueError(f'{out_file}: a label map must be (H, W) or (1, H, W), got shape '
                         f'{label.shape}')
    if label.size and (label.min() < 0 or label.max() > 255):
        raise ValueError(f'{out_file}: class indices must be in 0..255 to be written as an '
                         f'8-bit PNG, got values in [{label.min()}, {label.max()}]')
    height, width = label.shape
    image = Image.frombytes('P', (width, height),
                            np.ascontiguousarray(label, dtype=np.uint8).tobytes())
    image.putpalette(flat_palette(palette))
    image.save(out_file)
    return out_file


def save_prediction_png(pred: Any, out_dir: str, img_path: str, palette: Palette = None,
                        reduce_zero_label: bool = False) -> str:
    """Write a predicted label map as ``<out_dir>/<stem of img_path>.png``.

    With ``reduce_zero_label`` (the dataset shifted every label down by one and made 0
    ignored) the written values are ``pred + 1``, i.e. the dataset's own label values,
    as MMSegmentation's ``IoUMetric`` writes them.

    Args:
        pred (np.ndarray | Tensor): (H, W) or (1, H, W) predicted class indices.
        out_dir (str): an existing folder.
        img_path (str): the input image (its stem names the PNG).
        palette (Sequence[Sequence[int]], optional): RGB colour of each class.
        reduce_zero_label (bool): write ``pred + 1``. Defaults to False.

    Returns:
        str: the written path.
    """
    if reduce_zero_label:
        pred = pred + 1
    stem = osp.splitext(osp.basename(img_path))[0]
    return save_label_png(pred, osp.join(out_dir, f'{stem}.png'), palette)
