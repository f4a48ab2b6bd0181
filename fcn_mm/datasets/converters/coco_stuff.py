"""COCO-Stuff 164k stuffthingmaps to the 171 train ids (255 = unlabelled).

The stuffthingmaps (``annotations/{train2017,val2017}/<id>.png``) hold COCO category
ids minus one: 0..90 things (80 used), 91..181 stuff, 255 unlabelled. The 11 thing ids
COCO never annotated (0-based 11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90: street sign,
hat, shoe, eye glasses, plate, mirror, window, desk, door, blender, hair brush) have no
class; the other 171 ids, in ascending order, become train ids 0..170.
"""
import os
import os.path as osp
from functools import partial
from typing import Dict, List, Optional

import numpy as np

from .label_files import read_index_png, run_with_progress, write_grey_png

__all__ = ['UNUSED_COCO_IDS', 'COCO_ID_TO_TRAIN_ID', 'coco_ids_to_train_ids',
           'convert_one', 'convert_coco_stuff164k']

IGNORE = 255
NUM_COCO_IDS = 182
UNUSED_COCO_IDS = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)
SPLITS = ('train2017', 'val2017')
OUT_SUFFIX = '_labelTrainIds.png'
EXPECTED_IMAGES = dict(train2017=118287, val2017=5000)

COCO_ID_TO_TRAIN_ID = np.full(256, -1, np.int16)  # -1: no COCO-Stuff id
_used = [i for i in range(NUM_COCO_IDS) if i not in UNUSED_COCO_IDS]
COCO_ID_TO_TRAIN_ID[_used] = np.arange(len(_used))
COCO_ID_TO_TRAIN_ID[list(UNUSED_COCO_IDS)] = IGNORE
COCO_ID_TO_TRAIN_ID[IGNORE] = IGNORE


def coco_ids_to_train_ids(ids: np.ndarray, path: str = '') -> np.ndarray:
    """Map stuffthingmap values to train ids.

    Args:
        ids (np.ndarray): (H, W) values 0..181 or 255.
        path (str): the source file, for the error message.

    Returns:
        np.ndarray: (H, W) uint8 train ids 0..170, 255 unlabelled.

    Raises:
        ValueError: values 182..254 (or above 255): not a stuffthingmap.
    """
    ids = np.asarray(ids)
    bad = np.unique(ids[(ids < 0) | (ids > IGNORE)])
    if not bad.size:
        bad = np.unique(ids[COCO_ID_TO_TRAIN_ID[ids] < 0])
    if bad.size:
        raise ValueError(f'{path or "label map"}: values {bad[:10].tolist()} are no '
                         f'COCO-Stuff ids (a stuffthingmaps PNG holds 0..{NUM_COCO_IDS - 1} '
                         'and 255)')
    return COCO_ID_TO_TRAIN_ID[ids].astype(np.uint8)


def convert_one(source: str, out_dir: str) -> str:
    """Write ``out_dir/<stem>_labelTrainIds.png`` for one stuffthingmap."""
    ids = read_index_png(source, 'COCO-Stuff stuffthingmaps PNG')
    stem = osp.basename(source).split('.')[0]
    return write_grey_png(coco_ids_to_train_ids(ids, source),
                          osp.join(out_dir, stem + OUT_SUFFIX))


def _sources(ann_dir: str) -> List[str]:
    return sorted(osp.join(ann_dir, n) for n in os.listdir(ann_dir)
                  if n.endswith('.png') and not n.endswith(OUT_SUFFIX))


def convert_coco_stuff164k(root: str, nproc: int = 1,
                           out_dir: Optional[str] = None) -> Dict[str, int]:
    """Convert the stuffthingmaps of ``root/annotations/{train2017,val2017}``.

    Args:
        root (str): the COCO-Stuff folder (``images/`` and ``annotations/``).
        nproc (int): worker processes. Defaults to 1.
        out_dir (str, optional): output root (``<out_dir>/annotations/<split>``).
            Defaults to ``root`` (beside the sources, as the dataset expects).

    Returns:
        dict[str, int]: masks converted per split.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'COCO-Stuff folder not found: {root}')
    counts = {}
    for split in SPLITS:
        ann_dir = osp.join(root, 'annotations', split)
        img_dir = osp.join(root, 'images', split)
        for folder, what in ((ann_dir, 'stuffthingmaps_trainval2017.zip'),
                             (img_dir, f'{split}.zip of COCO 2017')):
            if not osp.isdir(folder):
                raise FileNotFoundError(
                    f'{root}: folder {folder} is missing; expected '
                    f'{root}/{{images,annotations}}/{{train2017,val2017}} (extract {what} '
                    'there, see docs/dataset_prepare.md)')
        sources = _sources(ann_dir)
        if not sources:
            raise FileNotFoundError(f'{ann_dir}: no stuffthingmaps PNG (expected '
                                    '<image id>.png, e.g. 000000000139.png)')
        images = {n.rsplit('.', 1)[0] for n in os.listdir(img_dir) if n.endswith('.jpg')}
        missing = [s for s in sources if osp.basename(s).split('.')[0] not in images]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} of {len(sources)} masks of {ann_dir} have no image '
                f'<id>.jpg in {img_dir}, e.g. {missing[:3]}')
        split_out = osp.join(out_dir or root, 'annotations', split)
        os.makedirs(split_out, exist_ok=True)
        run_with_progress(partial(convert_one, out_dir=split_out), sources, nproc)
        counts[split] = len(sources)
    return counts
