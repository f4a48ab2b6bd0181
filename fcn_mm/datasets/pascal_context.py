"""Pascal Context (VOC 2010 images): 60 classes with background, or 59 without."""
from fcn_mm.registry import DATASETS
from .basesegdataset import BaseSegDataset

__all__ = ['PascalContextDataset', 'PascalContextDataset59']

_LAYOUT = """Layout under ``data_root`` (``data/VOCdevkit/VOC2010``)::

        JPEGImages/<id>.jpg
        SegmentationClassContext/<id>.png
        ImageSets/SegmentationContext/{train,val}.txt

    ``SegmentationClassContext`` (label 0 = background, 1..59 = the 59 classes, 255
    = ignored) is written from ``trainval_merged.json`` by
    ``tools/dataset_converters/pascal_context.py``; the split files list image ids."""


@DATASETS.register_module()
class PascalContextDataset(BaseSegDataset):
    __doc__ = """Pascal Context, 60 classes: background (label 0) counts as a class.

    """ + _LAYOUT + """

    Args:
        ann_file (str): split file of image ids, relative to ``data_root``.
        img_suffix (str): Defaults to ``'.jpg'``.
        seg_map_suffix (str): Defaults to ``'.png'``.
        reduce_zero_label (bool): Defaults to False.
        **kwargs: the other arguments of :class:`BaseSegDataset`.
    """

    METAINFO = dict(
        classes=(
            'background', 'aeroplane', 'bag', 'bed', 'bedclothes', 'bench', 'bicycle', 'bird',
            'boat', 'book', 'bottle', 'building', 'bus', 'cabinet', 'car', 'cat', 'ceiling',
            'chair', 'cloth', 'computer', 'cow', 'cup', 'curtain', 'dog', 'door', 'fence',
            'floor', 'flower', 'food', 'grass', 'ground', 'horse', 'keyboard', 'light',
            'motorbike', 'mountain', 'mouse', 'person', 'plate', 'platform', 'pottedplant',
            'road', 'rock', 'sheep', 'shelves', 'sidewalk', 'sign', 'sky', 'snow', 'sofa',
            'table', 'track', 'train', 'tree', 'truck', 'tvmonitor', 'wall', 'water', 'window',
            'wood'),
        palette=[
            [120, 120, 120], [180, 120, 120], [6, 230, 230], [80, 50, 50], [4, 200, 3],
            [120, 120, 80], [140, 140, 140], [204, 5, 255], [230, 230, 230], [4, 250, 7],
            [224, 5, 255], [235, 255, 7], [150, 5, 61], [120, 120, 70], [8, 255, 51],
            [255, 6, 82], [143, 255, 140], [204, 255, 4], [255, 51, 7], [204, 70, 3],
            [0, 102, 200], [61, 230, 250], [255, 6, 51], [11, 102, 255], [255, 7, 71],
            [255, 9, 224], [9, 7, 230], [220, 220, 220], [255, 9, 92], [112, 9, 255],
            [8, 255, 214], [7, 255, 224], [255, 184, 6], [10, 255, 71], [255, 41, 10],
            [7, 255, 255], [224, 255, 8], [102, 8, 255], [255, 61, 6], [255, 194, 7],
            [255, 122, 8], [0, 255, 20], [255, 8, 41], [255, 5, 153], [6, 51, 255],
            [235, 12, 255], [160, 150, 20], [0, 163, 255], [140, 140, 140], [250, 10, 15],
            [20, 255, 0], [31, 255, 0], [255, 31, 0], [255, 224, 0], [153, 255, 0], [0, 0, 255],
            [255, 71, 0], [0, 235, 255], [0, 173, 255], [31, 0, 255]])

    def __init__(self,
                 ann_file: str = '',
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        super().__init__(ann_file=ann_file, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)


@DATASETS.register_module()
class PascalContextDataset59(BaseSegDataset):
    __doc__ = """Pascal Context, 59 classes: background (label 0) is ignored.

    Same files as :class:`PascalContextDataset`; ``reduce_zero_label=True`` turns
    label 0 into 255 and 1..59 into 0..58. """ + _LAYOUT + """

    Args:
        ann_file (str): split file of image ids, relative to ``data_root``.
        img_suffix (str): Defaults to ``'.jpg'``.
        seg_map_suffix (str): Defaults to ``'.png'``.
        reduce_zero_label (bool): Defaults to True.
        **kwargs: the other arguments of :class:`BaseSegDataset`.
    """

    # the 60-class list without its background (label 0), colours included
    METAINFO = dict(classes=PascalContextDataset.METAINFO['classes'][1:],
                    palette=PascalContextDataset.METAINFO['palette'][1:])

    def __init__(self,
                 ann_file: str = '',
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = True,
                 **kwargs) -> None:
        super().__init__(ann_file=ann_file, img_suffix=img_suffix,
                         seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)
