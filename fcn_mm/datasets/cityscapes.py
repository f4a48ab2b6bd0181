"""Cityscapes semantic segmentation (19 train ids, 255 = ignored)."""
from fcn_mm.registry import DATASETS
from .basesegdataset import BaseSegDataset

__all__ = ['CityscapesDataset']


@DATASETS.register_module()
class CityscapesDataset(BaseSegDataset):
    """Cityscapes, fine annotations, 19 evaluated classes.

    Layout under ``data_root`` (``data/cityscapes``), one folder per city::

        leftImg8bit/{train,val,test}/<city>/<city>_<seq>_<frame>_leftImg8bit.png
        gtFine/{train,val,test}/<city>/<city>_<seq>_<frame>_gtFine_labelTrainIds.png

    ``*_gtFine_labelTrainIds.png`` (train ids 0..18, 255 = ignored) are written from
    the official ``*_gtFine_labelIds.png`` by ``tools/dataset_converters/cityscapes.py``.
    With ``ann_file=''`` every image under ``data_prefix.img_path`` is used, found
    recursively and sorted by path.

    Args:
        img_suffix (str): Defaults to ``'_leftImg8bit.png'``.
        seg_map_suffix (str): Defaults to ``'_gtFine_labelTrainIds.png'``.
        **kwargs: the other arguments of :class:`BaseSegDataset`.
    """

    METAINFO = dict(
        classes=(
            'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light',
            'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck',
            'bus', 'train', 'motorcycle', 'bicycle'),
        palette=[
            [128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153],
            [153, 153, 153], [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152],
            [70, 130, 180], [220, 20, 60], [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100],
            [0, 80, 100], [0, 0, 230], [119, 11, 32]])

    def __init__(self,
                 img_suffix: str = '_leftImg8bit.png',
                 seg_map_suffix: str = '_gtFine_labelTrainIds.png',
                 **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
