"""Label maps drawn over images: palette colours blended at an opacity, and a legend.

Pure functions on arrays, used by :class:`~fcn_mm.visualization.SegLocalVisualizer` and by
the inference over folders and videos (:mod:`fcn_mm.apis.batch_inference`).
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['class_colours', 'blend_labels', 'draw_legend', 'draw_overlay']

Palette = Optional[Sequence[Sequence[int]]]


def class_colours(count: int, palette: Palette = None) -> np.ndarray:
    """(count, 3) uint8 RGB colours: the palette's, then fixed random ones for the rest.

    Args:
        count (int): number of labels to colour (0..count-1).
        palette (Sequence[Sequence[int]], optional): RGB colour of each class.

    Returns:
        np.ndarray: (count, 3) uint8.
    """
    colours = np.random.default_rng(42).integers(0, 256, (count, 3))
    if palette is not None:
        known = np.asarray(palette, dtype=np.int64).reshape(-1, 3)[:count]
        colours[:len(known)] = known
    return colours.astype(np.uint8)


def blend_labels(image: np.ndarray, labels: np.ndarray, colours: np.ndarray,
                 opacity: float) -> np.ndarray:
    """Blend the colour of each pixel's label over the image.

    ``out = round(image * (1 - opacity) + colour * opacity)`` where the label is a
    class index (``0 <= label < len(colours)``); other pixels (e.g. 255, ignored) keep
    the image.

    Args:
        image (np.ndarray): (H, W, 3) uint8 image (RGB or BGR, as ``colours``).
        labels (np.ndarray): (H, W) integer class indices.
        colours (np.ndarray): (K, 3) colour of each class, same channel order.
        opacity (float): weight of the colours, in [0, 1].

    Returns:
        np.ndarray: (H, W, 3) uint8.

    Raises:
        ValueError: the shapes do not match or ``opacity`` is outside [0, 1].
    """
    if not 0.0 <= float(opacity) <= 1.0:
        raise ValueError(f'opacity must be in [0, 1], got {opacity}')
    labels = np.asarray(labels).astype(np.int64)
    if image.ndim != 3 or image.shape[2] != 3 or labels.shape != image.shape[:2]:
        raise ValueError(f'label map of shape {labels.shape} does not match the image of '
                         f'shape {image.shape[:2]} (an (H, W, 3) image is expected)')
    valid = (labels >= 0) & (labels < len(colours))
    out = image.astype(np.float32)
    coloured = colours[labels[valid]].astype(np.float32)
    out[valid] = out[valid] * (1 - opacity) + coloured * opacity
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def draw_legend(canvas: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                colours: np.ndarray) -> Optional[Tuple[int, int, int, int]]:
    """Draw a legend of the classes present in ``labels`` in the top-left corner (in place).

    One row per class, the most frequent first: a swatch of the class colour and its
    name, on a dark box. Classes beyond the rows that fit the image height are
    summarised as ``+N more``.

    Args:
        canvas (np.ndarray): (H, W, 3) uint8, drawn on.
        labels (np.ndarray): (H, W) class indices (others are ignored).
        classes (Sequence[str]): class names.
        colours (np.ndarray): (K, 3) colour of each class, the channel order of ``canvas``.

    Returns:
        tuple[int, int, int, int] | None: the box ``(x0, y0, x1, y1)`` (exclusive ends),
        or None when no class is present or the image is too small for one row.
    """
    height, width = canvas.shape[:2]
    labels = np.asarray(labels).astype(np.int64)
    valid = (labels >= 0) & (labels < min(len(classes), len(colours)))
    present, counts = np.unique(labels[valid], return_counts=True)
    order = [int(c) for c in present[np.argsort(-counts, kind='stable')]]
    if not order:
        return None
    scale = max(0.35, min(height, width) / 700)
    (_, text_h), base = cv2.getTextSize('Ag', cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    pad, row_h = 3, text_h + base + 4
    rows = max(0, (height - 2 * pad) // row_h)
    if rows == 0:
        return None
    shown = order if len(order) <= rows else order[:max(rows - 1, 1)]
    texts = [str(classes[c]) for c in shown]
    if len(shown) < len(order) and len(shown) < rows:
        texts.append(f'+{len(order) - len(shown)} more')
    swatch = row_h - 4
    text_w = max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for t in texts)
    x1 = min(width, 2 * pad + swatch + 4 + text_w)
    y1 = min(height, 2 * pad + row_h * len(texts))
    box = canvas[:y1, :x1].astype(np.float32)
    canvas[:y1, :x1] = np.round(box * 0.35).astype(np.uint8)  # darken behind the legend
    for row, text in enumerate(texts):
        top = pad + row * row_h
        if row < len(shown):
            colour = tuple(int(v) for v in colours[shown[row]])
            cv2.rectangle(canvas, (pad, top + 2), (pad + swatch - 1, top + 1 + swatch),
                          colour, -1)
        cv2.putText(canvas, text, (pad + swatch + 4, top + 2 + text_h),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return 0, 0, x1, y1


def draw_overlay(image: np.ndarray, labels: np.ndarray, classes: Optional[Sequence[str]],
                 palette: Palette = None, opacity: float = 0.5,
                 legend: bool = True) -> np.ndarray:
    """The image with its label map blended over it, and a legend of the classes present.

    Args:
        image (np.ndarray): (H, W, 3) uint8 RGB image.
        labels (np.ndarray): (H, W) class indices.
        classes (Sequence[str], optional): class names (no legend without them).
        palette (Sequence[Sequence[int]], optional): RGB colour of each class.
        opacity (float): weight of the colours, in [0, 1]. Defaults to 0.5.
        legend (bool): draw the legend. Defaults to True.

    Returns:
        np.ndarray: (H, W, 3) uint8 RGB.
    """
    labels = np.asarray(labels)
    count = len(classes) if classes is not None else int(labels.max(initial=0)) + 1
    colours = class_colours(count, palette)
    drawn = blend_labels(image, labels, colours, opacity)
    if legend and classes is not None:
        draw_legend(drawn, labels, classes, colours)
    return drawn
