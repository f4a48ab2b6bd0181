"""Cityscapes fine annotations to train ids (19 classes, 255 = ignored).

The id table is the one of cityscapesScripts' ``helpers/labels.py`` (label name, id,
trainId; ids 0..33, plus 'license plate' with id -1, which is never drawn). A
``*_gtFine_labelIds.png`` is mapped through it; where that file is absent, the
``*_gtFine_polygons.json`` is drawn as cityscapesScripts' ``json2labelImg`` does: an
image of 'unlabeled' (id 0), then every polygon in file order, later over earlier, with
PIL's ``ImageDraw.polygon`` (filled, its outline included); objects marked 'deleted'
are skipped, and a name that is not a label but ends in 'group' (``cargroup``) is drawn
as its base label (``car``).
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw

from .label_files import list_files, read_index_png, run_with_progress, write_grey_png

__all__ = ['CITYSCAPES_LABELS', 'LABEL_ID_TO_TRAIN_ID', 'NAME_TO_ID', 'labelids_to_trainids',
           'draw_polygons', 'convert_one', 'find_annotations', 'convert_cityscapes',
           'write_split_lists']

IGNORE = 255
LABEL_IDS_SUFFIX = '_gtFine_labelIds.png'
POLYGONS_SUFFIX = '_gtFine_polygons.json'
TRAIN_IDS_SUFFIX = '_gtFine_labelTrainIds.png'
IMAGE_SUFFIX = '_leftImg8bit.png'
SPLITS = ('train', 'val', 'test')

# (name, id, trainId) of cityscapesScripts' labels.py; trainId 255: not trained/scored
CITYSCAPES_LABELS: Tuple[Tuple[str, int, int], ...] = (
    ('unlabeled', 0, 255), ('ego vehicle', 1, 255), ('rectification border', 2, 255),
    ('out of roi', 3, 255), ('static', 4, 255), ('dynamic', 5, 255), ('ground', 6, 255),
    ('road', 7, 0), ('sidewalk', 8, 1), ('parking', 9, 255), ('rail track', 10, 255),
    ('building', 11, 2), ('wall', 12, 3), ('fence', 13, 4), ('guard rail', 14, 255),
    ('bridge', 15, 255), ('tunnel', 16, 255), ('pole', 17, 5), ('polegroup', 18, 255),
    ('traffic light', 19, 6), ('traffic sign', 20, 7), ('vegetation', 21, 8),
    ('terrain', 22, 9), ('sky', 23, 10), ('person', 24, 11), ('rider', 25, 12),
    ('car', 26, 13), ('truck', 27, 14), ('bus', 28, 15), ('caravan', 29, 255),
    ('trailer', 30, 255), ('train', 31, 16), ('motorcycle', 32, 17), ('bicycle', 33, 18),
    ('license plate', -1, -1))
NAME_TO_ID: Dict[str, int] = {name: i for name, i, _ in CITYSCAPES_LABELS}
NUM_IDS = 34
# label id (0..33) -> train id; other values are no Cityscapes label id
LABEL_ID_TO_TRAIN_ID = np.full(256, -1, np.int16)
for _name, _id, _train_id in CITYSCAPES_LABELS:
    if _id >= 0:
        LABEL_ID_TO_TRAIN_ID[_id] = _train_id


def labelids_to_trainids(label_ids: np.ndarray, path: str = '') -> np.ndarray:
    """Map Cityscapes label ids to train ids.

    Args:
        label_ids (np.ndarray): (H, W) ids 0..33.
        path (str): the source file, for the error message.

    Returns:
        np.ndarray: (H, W) uint8 train ids 0..18, 255 for ignored labels.

    Raises:
        ValueError: values that are no Cityscapes label id.
    """
    label_ids = np.asarray(label_ids)
    bad = np.unique(label_ids[(label_ids < 0) | (label_ids >= NUM_IDS)])
    if bad.size:
        raise ValueError(f'{path or "label map"}: values {bad[:10].tolist()} are no '
                         f'Cityscapes label ids (expected 0..{NUM_IDS - 1}, the '
                         f'*{LABEL_IDS_SUFFIX} files of gtFine)')
    return LABEL_ID_TO_TRAIN_ID[label_ids].astype(np.uint8)


def _label_id(name: str, path: str) -> int:
    if name not in NAME_TO_ID and name.endswith('group'):
        name = name[:-len('group')]
    if name not in NAME_TO_ID:
        raise ValueError(f'{path}: unknown Cityscapes label "{name}" (expected one of the '
                         'names of cityscapesScripts\' labels.py, or "<name>group")')
    return NAME_TO_ID[name]


def draw_polygons(json_path: str) -> np.ndarray:
    """Draw a ``*_gtFine_polygons.json`` as a label-id image (as json2labelImg 'ids').

    Args:
        json_path (str): the polygons file (``imgHeight``, ``imgWidth``, ``objects``
            with ``label``, ``polygon`` [[x, y], ...] and optionally ``deleted``).

    Returns:
        np.ndarray: (imgHeight, imgWidth) uint8 label ids.
    """
    try:
        with open(json_path, encoding='utf-8') as f:
            annotation = json.load(f)
        size = (int(annotation['imgWidth']), int(annotation['imgHeight']))
        objects = annotation['objects']
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f'{json_path}: not a Cityscapes polygons file (expected JSON with '
                         f'imgHeight, imgWidth and objects; {type(e).__name__}: {e})') from e
    image = Image.new('L', size, NAME_TO_ID['unlabeled'])
    drawer = ImageDraw.Draw(image)
    for i, obj in enumerate(objects):
        if obj.get('deleted'):
            continue
        label_id = _label_id(obj.get('label', ''), json_path)
        if label_id < 0:  # license plate: not drawn
            continue
        try:
            points = [(x, y) for x, y in obj['polygon']]  # as given, like cityscapesScripts
            if not all(isinstance(v, (int, float)) for p in points for v in p):
                raise TypeError('non-numeric coordinate')
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f'{json_path}: object {i} ("{obj.get("label")}") has no '
                             'polygon of [x, y] points') from e
        if points:
            drawer.polygon(points, fill=label_id)
    return np.asarray(image)


def convert_one(source: str) -> str:
    """Write the ``*_gtFine_labelTrainIds.png`` beside one labelIds PNG or polygons file.

    Args:
        source (str): a ``*_gtFine_labelIds.png`` or ``*_gtFine_polygons.json``.

    Returns:
        str: the written file.
    """
    if source.endswith(LABEL_IDS_SUFFIX):
        ids = read_index_png(source, 'Cityscapes labelIds PNG')
        out = source[:-len(LABEL_IDS_SUFFIX)] + TRAIN_IDS_SUFFIX
    else:
        ids = draw_polygons(source)
        out = source[:-len(POLYGONS_SUFFIX)] + TRAIN_IDS_SUFFIX
    return write_grey_png(labelids_to_trainids(ids, source), out)


def find_annotations(gt_dir: str) -> List[str]:
    """One source per annotated image: its labelIds PNG, else its polygons file.

    Raises:
        FileNotFoundError: no annotation at all, or images of gtFine with other
            files (e.g. ``*_gtFine_color.png``) but neither source.
    """
    pngs = {p[:-len(LABEL_IDS_SUFFIX)]: p for p in list_files(gt_dir, LABEL_IDS_SUFFIX)}
    jsons = {p[:-len(POLYGONS_SUFFIX)]: p for p in list_files(gt_dir, POLYGONS_SUFFIX)}
    stems = sorted(set(pngs) | set(jsons))
    others = {p[:-len('_gtFine_color.png')] for p in list_files(gt_dir, '_gtFine_color.png')}
    incomplete = sorted(others - set(stems))
    if incomplete:
        raise FileNotFoundError(
            f'{gt_dir}: {len(incomplete)} annotated images have neither *{LABEL_IDS_SUFFIX} '
            f'nor *{POLYGONS_SUFFIX}, e.g. {incomplete[:3]} (an incomplete extraction of '
            'gtFine_trainvaltest.zip?)')
    if not stems:
        raise FileNotFoundError(
            f'{gt_dir}: no *{LABEL_IDS_SUFFIX} or *{POLYGONS_SUFFIX} file (expected '
            f'gtFine/{{train,val,test}}/<city>/<city>_<seq>_<frame>{LABEL_IDS_SUFFIX}, '
            'from gtFine_trainvaltest.zip)')
    return [pngs.get(s) or jsons[s] for s in stems]


def _check_images(root: str, gt_dir: str, sources: List[str]) -> None:
    """Every train/val image of leftImg8bit (if there) must have an annotation."""
    img_dir = osp.join(root, 'leftImg8bit')
    if not osp.isdir(img_dir):
        return
    annotated = {osp.relpath(s, gt_dir).rsplit('_gtFine_', 1)[0] for s in sources}
    missing = []
    for split in ('train', 'val'):
        for img in list_files(osp.join(img_dir, split), IMAGE_SUFFIX):
            if osp.relpath(img, img_dir)[:-len(IMAGE_SUFFIX)] not in annotated:
                missing.append(img)
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} images of {img_dir} have no annotation in {gt_dir}, e.g. '
            f'{missing[:3]} (expected <city>_<seq>_<frame>{LABEL_IDS_SUFFIX} or '
            f'{POLYGONS_SUFFIX} in the same split and city folder)')


def write_split_lists(gt_dir: str, out_dir: str) -> Dict[str, int]:
    """Write ``out_dir/{train,val,test}.txt``: ``<city>/<city>_<seq>_<frame>`` per line.

    Args:
        gt_dir (str): the gtFine folder.
        out_dir (str): where the lists go.

    Returns:
        dict[str, int]: lines per split written (splits without a folder left out).
    """
    counts = {}
    for split in SPLITS:
        split_dir = osp.join(gt_dir, split)
        if not osp.isdir(split_dir):
            continue
        names = sorted(osp.relpath(p, split_dir)[:-len(TRAIN_IDS_SUFFIX)]
                       for p in list_files(split_dir, TRAIN_IDS_SUFFIX))
        with open(osp.join(out_dir, f'{split}.txt'), 'w', encoding='utf-8') as f:
            f.writelines(n + '\n' for n in names)
        counts[split] = len(names)
    return counts


def convert_cityscapes(root: str, nproc: int = 1, out_dir: Optional[str] = None,
                       gt_dir: str = 'gtFine') -> Dict[str, int]:
    """Convert every fine annotation of a Cityscapes folder; write the split lists.

    Args:
        root (str): the Cityscapes folder (holding ``gtFine`` and ``leftImg8bit``).
        nproc (int): worker processes. Defaults to 1.
        out_dir (str, optional): where ``{train,val,test}.txt`` go. Defaults to ``root``.
        gt_dir (str): the annotation folder under ``root``. Defaults to ``'gtFine'``.

    Returns:
        dict[str, int]: ``converted``, ``from_polygons`` and the lines of each split list.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'Cityscapes folder not found: {root}')
    gt_path = osp.join(root, gt_dir)
    if not osp.isdir(gt_path):
        hint = (' (this looks like the gtFine folder itself: pass its parent)'
                if osp.isdir(osp.join(root, 'train')) else '')
        raise FileNotFoundError(f'{root}: no {gt_dir} folder{hint}; expected '
                                f'{root}/{gt_dir}/{{train,val,test}}/<city>/ (and '
                                f'{root}/leftImg8bit/...) as extracted from the Cityscapes '
                                'zips')
    sources = find_annotations(gt_path)
    _check_images(root, gt_path, sources)
    run_with_progress(convert_one, sources, nproc)
    out_dir = out_dir or root
    os.makedirs(out_dir, exist_ok=True)
    counts = dict(converted=len(sources),
                  from_polygons=sum(s.endswith(POLYGONS_SUFFIX) for s in sources))
    counts.update(write_split_lists(gt_path, out_dir))
    return counts
