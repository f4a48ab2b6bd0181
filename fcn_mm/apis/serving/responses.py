"""What ``POST /predict`` answers: the label map as an indexed PNG, an overlay PNG, or a
JSON summary of the classes present."""
import io
from typing import List, Optional, Sequence

import numpy as np
from PIL import Image

from fcn_mm.visualization.overlay import class_colours, draw_overlay

__all__ = ['label_png', 'overlay_png', 'class_summary']


def label_png(labels: np.ndarray, palette: np.ndarray) -> bytes:
    """The label map as an indexed (palette) PNG: pixel value = class index.

    Args:
        labels (np.ndarray): (H, W) integer class indices, 0..255.
        palette (np.ndarray): (K, 3) uint8 RGB colour of each class (K <= 256).

    Returns:
        bytes: the PNG file.

    Raises:
        ValueError: a label is outside 0..255 (an indexed PNG holds 256 values).
    """
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() > 255):
        raise ValueError(f'an indexed PNG holds labels 0..255, got {labels.min()}..'
                         f'{labels.max()}')
    image = Image.fromarray(labels.astype(np.uint8), mode='P')
    colours = np.zeros((256, 3), dtype=np.uint8)
    colours[:min(len(palette), 256)] = np.asarray(palette, dtype=np.uint8)[:256]
    image.putpalette(colours.reshape(-1).tolist())
    buffer = io.BytesIO()
    image.save(buffer, format='PNG')
    return buffer.getvalue()


def overlay_png(image_bgr: np.ndarray, labels: np.ndarray, classes: Optional[Sequence[str]],
                palette: Optional[Sequence[Sequence[int]]], opacity: float) -> bytes:
    """The image with its label colours blended at ``opacity`` and a legend, as a PNG.

    Args:
        image_bgr (np.ndarray): (H, W, 3) uint8 BGR image.
        labels (np.ndarray): (H, W) class indices.
        classes (Sequence[str], optional): class names (for the legend).
        palette (Sequence[Sequence[int]], optional): RGB colour of each class.
        opacity (float): weight of the colours, in [0, 1].

    Returns:
        bytes: an RGB PNG file.
    """
    drawn = draw_overlay(image_bgr[:, :, ::-1], labels, classes, palette, opacity)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(drawn), mode='RGB').save(buffer, format='PNG')
    return buffer.getvalue()


def class_summary(labels: np.ndarray, classes: Sequence[str],
                  palette: np.ndarray) -> List[dict]:
    """Per class present: pixel count, share of the image and bounding box.

    Args:
        labels (np.ndarray): (H, W) integer class indices.
        classes (Sequence[str]): class names (index -> name; other labels are named by
            their number).
        palette (np.ndarray): (K, 3) RGB colour of each class.

    Returns:
        list[dict]: ordered by class index, one per class present: ``index``, ``name``,
        ``color`` ([r, g, b]), ``pixels``, ``share`` (pixels / (H * W)) and ``bbox``
        ([x0, y0, x1, y1], exclusive ends).
    """
    labels = np.asarray(labels).astype(np.int64)
    total = labels.size
    present, counts = np.unique(labels, return_counts=True)
    colours = class_colours(max(len(classes), int(present.max(initial=0)) + 1), palette)
    result = []
    for index, count in zip(present.tolist(), counts.tolist()):
        rows = np.flatnonzero((labels == index).any(axis=1))
        cols = np.flatnonzero((labels == index).any(axis=0))
        result.append(dict(
            index=index,
            name=str(classes[index]) if 0 <= index < len(classes) else str(index),
            color=[int(v) for v in colours[index]] if index >= 0 else [0, 0, 0],
            pixels=count, share=count / total,
            bbox=[int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1]))
    return result
