"""BinarizeLabels: foreground-vs-background labels for binary (single-channel) heads."""
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from fcn_mm.registry import TRANSFORMS

__all__ = ['BinarizeLabels']


@TRANSFORMS.register_module()
class BinarizeLabels(BaseTransform):
    """Map class indices to 0 (background) and 1 (foreground); ``ignore_index`` stays.

    Reads and writes: every key in ``seg_fields`` (``gt_seg_map`` by default), (H, W)
    uint8. Place it right after ``LoadAnnotations``; that one must know the original
    class count (``LoadAnnotations(num_classes=...)``) when the dataset's ``classes``
    name the two binary classes.

    Args:
        background (Sequence[int]): class indices that become 0. Defaults to (0,).
        ignore_index (int): label left as it is. Defaults to 255.
    """

    def __init__(self, background: Sequence[int] = (0,), ignore_index: int = 255) -> None:
        if isinstance(background, int):
            background = (background,)
        if not background or not all(isinstance(b, int) and 0 <= b < 256 for b in background):
            raise ValueError('BinarizeLabels.background must be a non-empty list of class '
                             f'indices in 0..255, got {background!r}')
        if ignore_index in background:
            raise ValueError(f'BinarizeLabels: ignore_index {ignore_index} cannot also be '
                             f'a background class {list(background)}')
        self.background = tuple(background)
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        """Binarise ``results[key]`` for each key in ``seg_fields``.

        Args:
            results (dict): with ``gt_seg_map`` (H, W) from ``LoadAnnotations``.

        Returns:
            dict: ``results`` with labels in {0, 1, ignore_index}.
        """
        keys = results.get('seg_fields') or ['gt_seg_map']
        for key in keys:
            if key not in results:
                raise KeyError(f'BinarizeLabels: results has no {key!r}; put it after '
                               'LoadAnnotations')
            results[key] = self.map_labels(np.asarray(results[key])).astype(np.uint8)
        return results

    def map_labels(self, labels: np.ndarray) -> np.ndarray:
        """The binary label of each class index (what :meth:`transform` writes).

        The label check (``fcn_mm.datasets.label_check``) calls it on its raw-value ->
        label table, so that it judges the labels the loss will see.

        Args:
            labels (np.ndarray): class indices of any shape and integer dtype.

        Returns:
            np.ndarray: the same shape and dtype, with 0, 1 and ``ignore_index``.
        """
        binary = (~np.isin(labels, self.background)).astype(labels.dtype)
        binary[labels == self.ignore_index] = self.ignore_index
        return binary

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(background={list(self.background)}, '
                f'ignore_index={self.ignore_index})')
