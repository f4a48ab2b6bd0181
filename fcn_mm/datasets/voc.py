"""Pascal VOC 2012 segmentation dataset (21 classes, 255 = void)."""
from fcn_mm.registry import DATASETS
from fcn_mm.utils.palette import voc_colormap
from .basesegdataset import BaseSegDataset

__all__ = ['PascalVOCDataset', 'voc_colormap']


@DATASETS.register_module()
class PascalVOCDataset(BaseSegDataset):
    """Pascal VOC 2012 semantic segmentation.

    Layout under ``data_root`` (``data/VOCdevkit/VOC2012``): ``JPEGImages/<id>.jpg``,
    ``SegmentationClass/<id>.png`` (8-bit palette PNGs holding class indices 0..20,
    255 = void), ``ImageSets/Segmentation/{train,val}.txt``. SBD labels converted by
    ``tools/dataset_converters/voc_aug.py`` live in ``SegmentationClassAug/``.

    Args:
        ann_file (str): split file of image ids, relative to ``data_root``.
        img_suffix (str): Defaults to ``'.jpg'``.
        seg_map_suffix (str): Defaults to ``'.png'``.
        **kwargs: the other arguments of :class:`BaseSegDataset`.
    """

    METAINFO = dict(
        classes=('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle',
                 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable', 'dog',
                 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
                 'train', 'tvmonitor'),
        palette=voc_colormap(21))

    def __init__(self,
                 ann_file: str = '',
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        super().__init__(ann_file=ann_file, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix, **kwargs)
