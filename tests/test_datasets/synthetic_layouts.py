"""Tiny synthetic trees in the official layouts of Cityscapes, ADE20K, Pascal Context
and COCO-Stuff 164k, plus the dataset configs that read them.

Independent of fcn_mm (numpy and PIL only) and free of random numbers, so that
MMSegmentation's reference script (``tests/data/mmseg_reference/datasets/``, which
imports this file by path) and fcn_mm's tests write byte-identical label files.

Each layout has decoys that a loader must skip: Cityscapes' other gtFine files
(``_gtFine_labelIds.png``, ``_gtFine_color.png``) and a city whose name sorts between
the others; Pascal Context images that no split file lists; COCO-Stuff's raw
``<id>.png`` stuffthingmaps beside the ``_labelTrainIds.png`` files.
"""
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

VOID = 255
HEIGHT, WIDTH = 12, 16

# layout -> (data_root below the tree root, label values written (before any reduction))
LAYOUTS = {
    'cityscapes': ('cityscapes', 19),
    'ade': ('ade/ADEChallengeData2016', 151),  # 0 = "other", 1..150 the classes
    'pascal_context': ('VOCdevkit/VOC2010', 60),  # 0 = background, 1..59
    'coco_stuff164k': ('coco_stuff164k', 171),
}

# case -> (layout, dataset type, dataset keyword arguments besides data_root)
CASES: Dict[str, Tuple[str, str, dict]] = {
    'cityscapes_train': ('cityscapes', 'CityscapesDataset', dict(
        data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'))),
    'cityscapes_val': ('cityscapes', 'CityscapesDataset', dict(
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'))),
    'cityscapes_val_subset': ('cityscapes', 'CityscapesDataset', dict(
        metainfo=dict(classes=('car', 'road', 'person')),
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'))),
    'ade_train': ('ade', 'ADE20KDataset', dict(
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'))),
    'ade_val': ('ade', 'ADE20KDataset', dict(
        data_prefix=dict(img_path='images/validation',
                         seg_map_path='annotations/validation'))),
    'pascal_context_train': ('pascal_context', 'PascalContextDataset', dict(
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/train.txt')),
    'pascal_context_val': ('pascal_context', 'PascalContextDataset', dict(
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt')),
    'pascal_context_59_train': ('pascal_context', 'PascalContextDataset59', dict(
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/train.txt')),
    'pascal_context_59_val': ('pascal_context', 'PascalContextDataset59', dict(
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
        ann_file='ImageSets/SegmentationContext/val.txt')),
    'coco_stuff164k_train': ('coco_stuff164k', 'COCOStuffDataset', dict(
        data_prefix=dict(img_path='images/train2017', seg_map_path='annotations/train2017'))),
    'coco_stuff164k_val': ('coco_stuff164k', 'COCOStuffDataset', dict(
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'))),
}


def pattern_label(index: int, num_values: int, height: int = HEIGHT, width: int = WIDTH,
                  void: bool = True) -> np.ndarray:
    """(height, width) uint8 label: 4x4 blocks whose values walk through the classes.

    Image ``index`` starts at a different value; even images have a block of 0 (for
    the datasets that reduce it) and with ``void`` the last rows start with 255.
    """
    rows = np.arange(height)[:, None] // 4
    cols = np.arange(width)[None, :] // 4
    label = ((index * 7 + rows * 5 + cols * 3 + rows * cols) % num_values).astype(np.uint8)
    if index % 2 == 0:
        label[:4, :4] = 0
    if void:
        label[-(height % 4 or 4):, :2] = VOID
    return label


def pattern_image(index: int, height: int = HEIGHT, width: int = WIDTH) -> Image.Image:
    """An RGB image that is a function of ``index`` and the pixel position."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([(x * 13 + index * 31) % 256, (y * 17 + index * 7) % 256,
                    ((x + y) * 11 + index * 57) % 256], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb, 'RGB')


def _save_label(path: str, label: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(label, 'L').save(path)


def _save_image(path: str, index: int, height: int, width: int) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    pattern_image(index, height, width).save(path)


def _cityscapes(root: str, height: int, width: int) -> None:
    cities = {'train': ['aachen', 'bremen', 'aachen_b'], 'val': ['frankfurt', 'lindau']}
    index = 0
    for split, names in cities.items():
        for city in names:
            for frame in (19, 3):  # written out of order
                stem = f'{city}_000000_{frame:06d}'
                _save_image(osp.join(root, 'leftImg8bit', split, city,
                                     stem + '_leftImg8bit.png'), index, height, width)
                gt = osp.join(root, 'gtFine', split, city, stem)
                _save_label(gt + '_gtFine_labelTrainIds.png',
                            pattern_label(index, 19, height, width))
                # decoys: the official id map and the colour image
                _save_label(gt + '_gtFine_labelIds.png',
                            pattern_label(index + 1, 34, height, width, void=False))
                _save_label(gt + '_gtFine_color.png', np.zeros((height, width), np.uint8))
                index += 1


def _ade(root: str, height: int, width: int) -> None:
    for split, prefix, count in (('training', 'ADE_train', 4), ('validation', 'ADE_val', 2)):
        for i in range(count, 0, -1):
            index = i + (0 if split == 'training' else 10)
            stem = f'{prefix}_{i:08d}'
            _save_image(osp.join(root, 'images', split, stem + '.jpg'), index, height, width)
            # 0 ("other objects") appears, no 255: ADE20K marks nothing as void
            _save_label(osp.join(root, 'annotations', split, stem + '.png'),
                        pattern_label(index, 151, height, width, void=False))


def _pascal_context(root: str, height: int, width: int) -> None:
    splits = {'train': ['2008_000002', '2008_000008', '2010_000001'],
              'val': ['2008_000020', '2009_000011']}
    unlisted = ['2007_000033']  # an image (with label) that no split lists
    for index, stem in enumerate(splits['train'] + splits['val'] + unlisted):
        _save_image(osp.join(root, 'JPEGImages', stem + '.jpg'), index, height, width)
        _save_label(osp.join(root, 'SegmentationClassContext', stem + '.png'),
                    pattern_label(index, 60, height, width))
    split_dir = osp.join(root, 'ImageSets', 'SegmentationContext')
    os.makedirs(split_dir, exist_ok=True)
    for split, stems in splits.items():
        with open(osp.join(split_dir, split + '.txt'), 'w', encoding='utf-8') as f:
            f.write(''.join(stem + '\n' for stem in stems))


def _coco_stuff164k(root: str, height: int, width: int) -> None:
    ids = {'train2017': [9, 25, 30], 'val2017': [139, 285]}
    index = 0
    for split, numbers in ids.items():
        for number in numbers:
            stem = f'{number:012d}'
            _save_image(osp.join(root, 'images', split, stem + '.jpg'), index, height, width)
            ann = osp.join(root, 'annotations', split, stem)
            _save_label(ann + '_labelTrainIds.png', pattern_label(index, 171, height, width))
            # decoy: the raw stuffthingmap (COCO ids 0..181) that the converter reads
            _save_label(ann + '.png', pattern_label(index, 182, height, width))
            index += 1


_BUILDERS = {'cityscapes': _cityscapes, 'ade': _ade, 'pascal_context': _pascal_context,
             'coco_stuff164k': _coco_stuff164k}


def build_layout(layout: str, tree_root: str, height: int = HEIGHT,
                 width: int = WIDTH) -> str:
    """Write the synthetic tree of ``layout`` under ``tree_root``.

    Args:
        layout (str): one of :data:`LAYOUTS`.
        tree_root (str): folder that plays ``data/`` (created if missing).
        height (int): image and label height. Defaults to 12.
        width (int): image and label width. Defaults to 16.

    Returns:
        str: the dataset's ``data_root`` (e.g. ``<tree_root>/cityscapes``).
    """
    if layout not in _BUILDERS:
        raise KeyError(f'unknown layout {layout!r}; expected one of {sorted(_BUILDERS)}')
    data_root = osp.join(tree_root, LAYOUTS[layout][0])
    _BUILDERS[layout](data_root, height, width)
    return data_root


def case_dataset_cfg(case: str, data_root: str) -> dict:
    """The dataset config of ``case`` (``type``, ``data_root`` and its arguments)."""
    _, dataset_type, kwargs = CASES[case]
    return dict(type=dataset_type, data_root=data_root, **kwargs)


def relative_files(data_list: List[dict], data_root: str) -> List[List[str]]:
    """``[img_path, seg_map_path]`` of each sample, relative to ``data_root``, '/'-joined."""
    def rel(path):
        return osp.relpath(path, data_root).replace(os.sep, '/')
    return [[rel(info['img_path']), rel(info['seg_map_path'])] for info in data_list]
