"""Convert SBD ("VOC aug") labels for Pascal VOC training.

    python tools/dataset_converters/voc_aug.py data/VOCdevkit data/VOCdevkit/VOCaug --nproc 8

Input: ``AUG_ROOT/dataset/cls/<id>.mat`` (struct ``GTcls`` with field ``Segmentation``:
class indices 0..20, no void) and ``AUG_ROOT/dataset/{train,val}.txt``; VOC's
``ImageSets/Segmentation/{train,val}.txt``. Output: ``VOC2012/SegmentationClassAug/<id>.png``
('P' PNGs with the VOC palette, pixel value = class index) and
``VOC2012/ImageSets/Segmentation/``:

- ``trainaug.txt`` = (VOC train + SBD train + SBD val) - VOC val (10582 ids),
- ``aug.txt`` = (SBD train + SBD val) - (VOC train + VOC val) (9118 ids),

both sorted. VOC's own labels stay in ``SegmentationClass`` (the aug config
concatenates VOC train from there with ``aug.txt`` from ``SegmentationClassAug``).
See docs/dataset_prepare.md.
"""
import argparse
import os
import os.path as osp
from functools import partial
from multiprocessing import Pool
from typing import Dict, List, Optional

import numpy as np

from fcn_mm.utils.label_png import save_label_png

NUM_VOC_CLASSES = 21
EXPECTED = dict(trainaug=10582, aug=9118)


def read_ids(path: str) -> List[str]:
    """Read a split file (one id per line).

    Args:
        path (str): the split file.

    Returns:
        list[str]: the ids, in file order.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Split file not found: {path}')
    with open(path, encoding='utf-8') as f:
        ids = [line.strip() for line in f if line.strip()]
    if not ids:
        raise ValueError(f'Split file is empty: {path}')
    return ids


def convert_mat(mat_path: str, out_dir: str) -> str:
    """Convert one SBD ``cls/<id>.mat`` to ``out_dir/<id>.png``.

    Args:
        mat_path (str): the .mat file with struct ``GTcls``.
        out_dir (str): output folder.

    Returns:
        str: the written PNG path.
    """
    from scipy.io import loadmat
    try:
        mat = loadmat(mat_path, struct_as_record=True)
        seg = np.asarray(mat['GTcls'][0]['Segmentation'][0])
    except (KeyError, IndexError, ValueError, OSError) as e:
        raise ValueError(f'{mat_path}: expected an SBD cls file with struct '
                         f'GTcls.Segmentation ({type(e).__name__}: {e})') from e
    if seg.ndim != 2 or (seg.size and (seg.min() < 0 or seg.max() >= NUM_VOC_CLASSES)):
        raise ValueError(f'{mat_path}: GTcls.Segmentation must be a 2-D map of class '
                         f'indices 0..{NUM_VOC_CLASSES - 1}, got shape {seg.shape}, '
                         f'values {np.unique(seg)[:10].tolist()}')
    out_path = osp.join(out_dir, osp.splitext(osp.basename(mat_path))[0] + '.png')
    return save_label_png(seg, out_path)


def _write_ids(path: str, ids: set) -> int:
    with open(path, 'w', encoding='utf-8') as f:
        f.writelines(f'{i}\n' for i in sorted(ids))
    return len(ids)


def convert_voc_aug(devkit_root: str, aug_root: str, out_dir: Optional[str] = None,
                    nproc: int = 1) -> Dict[str, int]:
    """Convert every SBD .mat label and write ``trainaug.txt`` and ``aug.txt``.

    Args:
        devkit_root (str): ``VOCdevkit`` folder (holding ``VOC2012``).
        aug_root (str): SBD root (holding ``dataset/cls``, ``dataset/train.txt``,
            ``dataset/val.txt``), e.g. ``benchmark_RELEASE``.
        out_dir (str, optional): PNG folder. Defaults to
            ``devkit_root/VOC2012/SegmentationClassAug``.
        nproc (int): worker processes. Defaults to 1.

    Returns:
        dict[str, int]: ``converted``, ``trainaug`` and ``aug`` counts.
    """
    voc_root = osp.join(devkit_root, 'VOC2012')
    split_dir = osp.join(voc_root, 'ImageSets', 'Segmentation')
    cls_dir = osp.join(aug_root, 'dataset', 'cls')
    for folder in (split_dir, cls_dir):
        if not osp.isdir(folder):
            raise FileNotFoundError(f'Folder not found: {folder}. See '
                                    'docs/dataset_prepare.md for the expected layout.')
    voc_train = read_ids(osp.join(split_dir, 'train.txt'))
    voc_val = read_ids(osp.join(split_dir, 'val.txt'))
    sbd = (read_ids(osp.join(aug_root, 'dataset', 'train.txt'))
           + read_ids(osp.join(aug_root, 'dataset', 'val.txt')))
    out_dir = out_dir or osp.join(voc_root, 'SegmentationClassAug')
    os.makedirs(out_dir, exist_ok=True)
    mats = sorted(osp.join(cls_dir, n) for n in os.listdir(cls_dir) if n.endswith('.mat'))
    missing = sorted(set(sbd) - {osp.basename(m)[:-4] for m in mats})
    if missing:
        raise FileNotFoundError(f'{len(missing)} SBD ids have no .mat in {cls_dir}, '
                                f'e.g. {missing[:5]}')
    work = partial(convert_mat, out_dir=out_dir)
    if nproc > 1:
        with Pool(nproc) as pool:
            list(pool.imap_unordered(work, mats, chunksize=64))
    else:
        for mat in mats:
            work(mat)
    counts = dict(converted=len(mats))
    counts['trainaug'] = _write_ids(osp.join(split_dir, 'trainaug.txt'),
                                    set(voc_train + sbd) - set(voc_val))
    counts['aug'] = _write_ids(osp.join(split_dir, 'aug.txt'),
                               set(sbd) - set(voc_train + voc_val))
    return counts



def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert SBD labels to PNGs and '
                                     'write trainaug.txt / aug.txt')
    parser.add_argument('devkit_path', help='VOCdevkit folder (holds VOC2012)')
    parser.add_argument('aug_path', help='SBD folder (holds dataset/cls)')
    parser.add_argument('-o', '--out-dir', help='PNG output folder (default: '
                        'VOC2012/SegmentationClassAug)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    counts = convert_voc_aug(args.devkit_path, args.aug_path, args.out_dir, args.nproc)
    print(f'converted {counts["converted"]} labels; trainaug.txt: '
          f'{counts["trainaug"]} ids, aug.txt: {counts["aug"]} ids')
    for key, value in EXPECTED.items():
        if counts[key] != value:
            print(f'note: the full VOC2012 + SBD data give {value} ids in {key}.txt')


if __name__ == '__main__':
    main()
