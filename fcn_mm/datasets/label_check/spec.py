"""The inputs of the label rules: a dataset's label settings and the samples read."""
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np

from .mask_stats import MaskStats

__all__ = ['LabelSpec', 'SampleRecord']


@dataclass
class LabelSpec:
    """How a dataset turns mask values into training labels.

    Args:
        name (str): where the dataset is, e.g. ``'train_dataloader.dataset'``.
        type_name (str): the dataset class, e.g. ``'PascalVOCDataset'``.
        classes (Sequence[str]): ``metainfo['classes']``.
        ignore_index (int): the label ignored by loss and metric. Defaults to 255.
        reduce_zero_label (bool): 0 -> 255, v -> v - 1 (as ``LoadAnnotations``).
        label_map (dict[int, int], optional): old -> new label, applied after
            ``reduce_zero_label`` (a class subset).
        head_num_classes (dict[str, int]): config key -> ``num_classes`` of each head,
            e.g. ``{'model.decode_head.num_classes': 21}``.
        label_mappers (Sequence[callable]): the ``map_labels`` methods of pipeline
            transforms that rewrite labels after loading (e.g. ``BinarizeLabels``),
            applied in pipeline order after ``label_map``.
    """

    name: str
    type_name: str
    classes: Sequence[str]
    ignore_index: int = 255
    reduce_zero_label: bool = False
    label_map: Optional[Dict[int, int]] = None
    head_num_classes: Dict[str, int] = field(default_factory=dict)
    label_mappers: Sequence[Callable[[np.ndarray], np.ndarray]] = ()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def label_lut(self, size: int) -> np.ndarray:
        """raw value -> training label, for raw values ``0..size-1`` (int64)."""
        lut = np.arange(size, dtype=np.int64)
        if self.reduce_zero_label:
            lut = lut - 1
            lut[0] = 255
            lut[lut == 254] = 255
        if self.label_map:
            mapped = lut.copy()
            for old, new in self.label_map.items():
                mapped[lut == old] = new
            lut = mapped
        for mapper in self.label_mappers:
            lut = np.asarray(mapper(lut), dtype=np.int64)
        return lut


@dataclass
class SampleRecord:
    """One sample: its files, what was read and the size the image loader will see.

    Args:
        img_path (str): the image.
        seg_map_path (str): the mask (may not exist).
        mask (MaskStats, optional): None when the mask file is missing.
        img_size (tuple[int, int], optional): (H, W) as ``LoadImageFromFile`` decodes it.
        img_rotated (bool): the image's EXIF orientation swaps its width and height.
    """

    img_path: str
    seg_map_path: str
    mask: Optional[MaskStats] = None
    img_size: Optional[Tuple[int, int]] = None
    img_rotated: bool = False
