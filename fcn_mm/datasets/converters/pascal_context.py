"""PASCAL Context (``trainval_merged.json`` of PASCAL in Detail) to label PNGs.

The JSON (public format of the Detail API) holds ``images`` (``image_id``,
``file_name``, ``height``, ``width``, ``phase`` 'train' / 'val') and
``annos_segmentation`` (``image_id``, ``category_id`` of the 459-class set,
``segmentation`` as COCO run-length encoding, decoded with pycocotools). An image's
class map is drawn as the Detail API's ``getMask`` does: zeros, then each of its
annotations in file order sets its pixels to the category id (later over earlier).
The 59 most frequent categories plus 0 (background), in ascending id order, become
labels 0..59: the labels of ``PascalContextDataset`` (60 classes, 0 = background)
and, with ``reduce_zero_label=True``, of ``PascalContextDataset59``.
"""
import json
import os
import os.path as osp
import warnings
from collections import defaultdict
from functools import partial
from typing import Dict, List, Optional, Tuple

import numpy as np

from .label_files import run_with_progress, write_grey_png

__all__ = ['CONTEXT_CATEGORY_IDS', 'decode_segmentation', 'context_label',
           'load_context_annotations', 'convert_pascal_context']

# category ids of the 59 classes and background (0), ascending: label = position
CONTEXT_CATEGORY_IDS = (
    0, 2, 9, 18, 19, 22, 23, 25, 31, 33, 34, 44, 45, 46, 59, 65, 68, 72, 80, 85, 98, 104,
    105, 113, 115, 144, 158, 159, 162, 187, 189, 207, 220, 232, 258, 259, 260, 284, 295,
    296, 308, 324, 326, 347, 349, 354, 355, 360, 366, 368, 397, 415, 416, 420, 424, 427,
    440, 445, 454, 458)
PHASES = ('train', 'val')
PYCOCOTOOLS_HINT = ('the annotation masks are COCO run-length encoded: pip install '
                    'pycocotools (or pip install -e .[datasets])')


def _mask_api():
    try:
        from pycocotools import mask
    except ImportError as e:
        raise ImportError(f'Converting PASCAL Context needs pycocotools: '
                          f'{PYCOCOTOOLS_HINT}') from e
    return mask


def decode_segmentation(segmentation: dict, height: int, width: int,
                        where: str) -> np.ndarray:
    """Decode one run-length encoded mask (compressed string or uncompressed counts).

    Args:
        segmentation (dict): ``{'size': [h, w], 'counts': str | bytes | list}``.
        height (int): the image height.
        width (int): the image width.
        where (str): the annotation, for the error message.

    Returns:
        np.ndarray: (height, width) bool.
    """
    mask_api = _mask_api()
    if not isinstance(segmentation, dict) or 'counts' not in segmentation:
        raise ValueError(f'{where}: segmentation must be a run-length encoding '
                         f'{{"size": [h, w], "counts": ...}}, got {type(segmentation).__name__}')
    rle = dict(segmentation)
    if isinstance(rle['counts'], list):
        rle = mask_api.frPyObjects(rle, height, width)
    elif isinstance(rle['counts'], str):
        rle['counts'] = rle['counts'].encode('ascii')
    if list(rle.get('size', ())) != [height, width]:
        raise ValueError(f'{where}: mask size {rle.get("size")} differs from the image '
                         f'size [{height}, {width}]')
    with warnings.catch_warnings():  # pycocotools' numpy-2 copy= DeprecationWarning
        warnings.simplefilter('ignore', DeprecationWarning)
        return mask_api.decode(rle).astype(bool)


def context_label(image: dict, annotations: List[dict], where: str) -> np.ndarray:
    """The 0..59 label map of one image.

    Args:
        image (dict): its ``images`` entry (``height``, ``width``, ``file_name``).
        annotations (list[dict]): its ``annos_segmentation`` entries, in file order.
        where (str): the JSON path, for error messages.

    Returns:
        np.ndarray: (height, width) uint8.
    """
    height, width = int(image['height']), int(image['width'])
    category = np.zeros((height, width), np.int64)
    for ann in annotations:
        m = decode_segmentation(ann['segmentation'], height, width,
                                f'{where}: annotation {ann.get("id")} of '
                                f'{image["file_name"]}')
        category[m] = int(ann['category_id'])
    present = np.unique(category)
    unknown = sorted(set(present.tolist()) - set(CONTEXT_CATEGORY_IDS))
    if unknown:
        raise ValueError(f'{where}: {image["file_name"]} has category ids {unknown[:10]} '
                         'outside the 59 PASCAL Context classes (expected '
                         'trainval_merged.json, whose annotations use only those)')
    return np.searchsorted(np.asarray(CONTEXT_CATEGORY_IDS), category).astype(np.uint8)


def load_context_annotations(json_path: str) -> Tuple[List[dict], Dict[int, List[dict]]]:
    """The train and val images of the JSON and the annotations of each.

    Returns:
        tuple: (images of phase train or val, image_id -> its annotations in file order).
    """
    if not osp.isfile(json_path):
        raise FileNotFoundError(f'Annotation file not found: {json_path} (expected '
                                'trainval_merged.json of PASCAL in Detail)')
    try:
        with open(json_path, encoding='utf-8') as f:
            data = json.load(f)
        images, annotations = data['images'], data['annos_segmentation']
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f'{json_path}: expected the PASCAL in Detail JSON with "images" '
                         f'and "annos_segmentation" ({type(e).__name__}: {e})') from e
    by_image: Dict[int, List[dict]] = defaultdict(list)
    for ann in annotations:
        by_image[ann['image_id']].append(ann)
    images = [img for img in images if img.get('phase') in PHASES]
    if not images:
        raise ValueError(f'{json_path}: no image with phase "train" or "val"')
    return images, by_image


def _convert_image(task: Tuple[dict, List[dict]], out_dir: str, json_path: str) -> str:
    image, annotations = task
    stem = osp.splitext(osp.basename(image['file_name']))[0]
    write_grey_png(context_label(image, annotations, json_path),
                   osp.join(out_dir, stem + '.png'))
    return stem


def convert_pascal_context(devkit_path: str, json_path: str, out_dir: Optional[str] = None,
                           nproc: int = 1) -> Dict[str, int]:
    """Write ``VOC2010/SegmentationClassContext/<id>.png`` and the split lists.

    Args:
        devkit_path (str): ``VOCdevkit`` (holding ``VOC2010/JPEGImages``).
        json_path (str): ``trainval_merged.json``.
        out_dir (str, optional): PNG folder. Defaults to
            ``VOC2010/SegmentationClassContext``.
        nproc (int): worker processes. Defaults to 1.

    Returns:
        dict[str, int]: images per phase; ``ImageSets/SegmentationContext/
        {train,val}.txt`` list them, sorted.
    """
    voc = osp.join(devkit_path, 'VOC2010')
    img_dir = osp.join(voc, 'JPEGImages')
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'{devkit_path}: folder {img_dir} is missing (expected '
                                'VOCdevkit/VOC2010/JPEGImages from '
                                'VOCtrainval_03-May-2010.tar)')
    _mask_api()  # fail before the long JSON load
    images, by_image = load_context_annotations(json_path)
    missing = [img['file_name'] for img in images
               if not osp.isfile(osp.join(img_dir, img['file_name']))]
    if missing:
        raise FileNotFoundError(f'{len(missing)} images of {json_path} are not in '
                                f'{img_dir}, e.g. {missing[:3]}')
    out_dir = out_dir or osp.join(voc, 'SegmentationClassContext')
    split_dir = osp.join(voc, 'ImageSets', 'SegmentationContext')
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(split_dir, exist_ok=True)
    counts = {}
    for phase in PHASES:
        tasks = [(img, by_image.get(img['image_id'], [])) for img in images
                 if img['phase'] == phase]
        stems = run_with_progress(partial(_convert_image, out_dir=out_dir,
                                          json_path=json_path), tasks, nproc)
        with open(osp.join(split_dir, f'{phase}.txt'), 'w', encoding='utf-8') as f:
            f.writelines(s + '\n' for s in sorted(stems))
        counts[phase] = len(stems)
    return counts
