"""Confusion matrices: accumulate from label/prediction pairs and draw them as a PNG."""
from typing import Optional, Sequence

import numpy as np

__all__ = ['confusion_matrix', 'normalize_rows', 'iou_from_confusion',
           'plot_confusion_matrix']


def confusion_matrix(label: np.ndarray, pred: np.ndarray, num_classes: int,
                     ignore_index: int = 255) -> np.ndarray:
    """Count (label, prediction) pairs with one bincount.

    Args:
        label (ndarray): (H, W) ground-truth class indices; ``ignore_index`` is skipped.
        pred (ndarray): (H, W) predicted class indices.
        num_classes (int): C.
        ignore_index (int): label value to skip.

    Returns:
        ndarray: (C, C) int64, rows = ground truth, columns = prediction.

    Raises:
        ValueError: shapes differ, or a value outside [0, C) that is not ignored.
    """
    label = np.asarray(label).reshape(-1)
    pred = np.asarray(pred).reshape(-1)
    if label.shape != pred.shape:
        raise ValueError(f'label has {label.size} pixels but pred has {pred.size}')
    keep = label != ignore_index
    label, pred = label[keep].astype(np.int64), pred[keep].astype(np.int64)
    for name, values in (('label', label), ('pred', pred)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            bad = np.unique(values[(values < 0) | (values >= num_classes)])
            raise ValueError(f'{name} values {bad.tolist()} are outside [0, {num_classes})')
    counts = np.bincount(label * num_classes + pred, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Divide each row by its sum (rows that sum to 0 stay 0).

    Args:
        matrix (ndarray): (C, C) counts.

    Returns:
        ndarray: (C, C) float64, each non-empty row sums to 1.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def iou_from_confusion(matrix: np.ndarray) -> np.ndarray:
    """Per-class IoU from a confusion matrix: TP / (TP + FP + FN).

    Args:
        matrix (ndarray): (C, C) counts, rows = ground truth, columns = prediction.

    Returns:
        ndarray: (C,) float64 IoU in [0, 1]; NaN for a class that is neither in the
        ground truth nor predicted (as ``IoUMetric``, which averages with nanmean).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(matrix)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - tp
    return np.divide(tp, union, out=np.full_like(tp, np.nan), where=union > 0)


def plot_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str], out_file: str,
                          title: str = 'Normalized confusion matrix',
                          cmap: str = 'viridis', dpi: int = 100,
                          size: Optional[float] = None) -> str:
    """Draw a row-normalised confusion matrix with class names and save it as PNG.

    Args:
        matrix (ndarray): (C, C) counts, rows = ground truth.
        class_names (list[str]): C names.
        out_file (str): PNG path.
        title (str): figure title.
        cmap (str): matplotlib colour map.
        dpi (int): dots per inch.
        size (float, optional): figure side in inches. Defaults to
            ``max(4, 0.45 * C + 2)``; the PNG is ``size * dpi`` pixels square.

    Returns:
        str: ``out_file``.

    Raises:
        ValueError: ``matrix`` is not (C, C) for the C class names.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    num_classes = len(class_names)
    if matrix.shape != (num_classes, num_classes):
        raise ValueError(f'matrix of shape {matrix.shape} does not fit {num_classes} '
                         'class names')
    percent = normalize_rows(matrix) * 100
    side = size or max(4.0, 0.45 * num_classes + 2)
    fig, ax = plt.subplots(figsize=(side, side), dpi=dpi)
    image = ax.imshow(percent, cmap=cmap, vmin=0, vmax=100)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label='% of ground truth')
    ticks = np.arange(num_classes)
    ax.set_xticks(ticks, labels=class_names, rotation=90)
    ax.set_yticks(ticks, labels=class_names)
    ax.set_xlabel('prediction')
    ax.set_ylabel('ground truth')
    ax.set_title(title)
    if num_classes <= 30:
        for row in range(num_classes):
            for col in range(num_classes):
                value = percent[row, col]
                ax.text(col, row, f'{value:.0f}', ha='center', va='center', fontsize=7,
                        color='white' if value < 50 else 'black')
    fig.tight_layout()
    fig.savefig(out_file, dpi=dpi)
    plt.close(fig)
    return out_file
