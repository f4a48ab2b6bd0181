"""SegDataSample: the data interface between datasets, models, metrics and visualizers."""
from mmengine.structures import BaseDataElement, PixelData


class SegDataSample(BaseDataElement):
    """One image's segmentation data.

    Fields (all :class:`mmengine.structures.PixelData`):
        gt_sem_seg: ground truth, ``data`` of shape (1, H, W), int64 class indices.
        pred_sem_seg: prediction, ``data`` of shape (1, H, W), int64 class indices.
        seg_logits: per-class scores, ``data`` of shape (C, H, W), float.

    Metainfo keys as MMSegmentation: ``img_path``, ``seg_map_path``, ``img_shape``,
    ``ori_shape``, ``pad_shape``, ``padding_size``, ``reduce_zero_label``, ``flip``,
    ``flip_direction``, ``scale_factor``.
    """

    def _typed(name):  # noqa: N805 - builds properties below
        def getter(self):
            return getattr(self, f'_{name}')

        def setter(self, value: PixelData):
            self.set_field(value, f'_{name}', dtype=PixelData)

        def deleter(self):
            delattr(self, f'_{name}')

        return property(getter, setter, deleter)

    gt_sem_seg = _typed('gt_sem_seg')
    pred_sem_seg = _typed('pred_sem_seg')
    seg_logits = _typed('seg_logits')
    del _typed
