"""Draw a confusion matrix as a PNG with class names.

The matrix itself is counted by :func:`fcn_mm.evaluation.confusion_matrix`, the accumulator
of ``IoUMetric`` (its IoU: :func:`fcn_mm.evaluation.iou_from_confusion`).
"""
from typing import Optional, Sequence

import numpy as np

__all__ = ['normalize_rows', 'plot_confusion_matrix']


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
