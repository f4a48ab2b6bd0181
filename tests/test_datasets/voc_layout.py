"""Write small datasets in the real Pascal VOC layout (reusable by any test).

``VOC2012/JPEGImages/<id>.jpg`` (cv2), ``VOC2012/<label_dir>/<id>.png`` (PIL, 'P' with
the VOC palette or 'L'), ``VOC2012/ImageSets/Segmentation/<split>.txt``.
"""
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional, Tuple

import cv2
import numpy as np
from PIL import Image

VOID = 255


def voc_palette_flat() -> List[int]:
    """The 256-entry VOC colour map as a flat RGB list (written independently)."""
    flat = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        flat += [r, g, b]
    return flat


def save_label_png(path: str, label: np.ndarray, mode: str = 'P') -> None:
    """Save class indices as a 'P' (VOC palette) or 'L' PNG."""
    label = np.ascontiguousarray(label.astype(np.uint8))
    img = Image.frombytes(mode, (label.shape[1], label.shape[0]), label.tobytes())
    if mode == 'P':
        img.putpalette(voc_palette_flat())
    img.save(path)


def block_label(h: int, w: int, classes: Iterable[int], block: int = 8,
                seed: int = 0, void_frac: float = 0.1) -> np.ndarray:
    """(h, w) uint8 label of ``block`` x ``block`` squares of random classes and 255."""
    rng = np.random.default_rng(seed)
    classes = np.asarray(list(classes))
    gh, gw = -(-h // block), -(-w // block)
    grid = rng.choice(classes, size=(gh, gw)).astype(np.uint8)
    grid[rng.random((gh, gw)) < void_frac] = VOID
    return np.kron(grid, np.ones((block, block), np.uint8))[:h, :w]


def class_colour(label: np.ndarray) -> np.ndarray:
    """A BGR image whose colour is a function of the label (distinct per value).

    Colours are random (fixed seed), so a blend of two class colours made by an
    interpolating resize is practically never exactly a third class colour.
    """
    lut = np.random.default_rng(12345).integers(0, 256, (256, 3)).astype(np.uint8)
    return lut[label]


def label_from_colour(img: np.ndarray) -> np.ndarray:
    """Invert :func:`class_colour`; -1 where the colour is not exactly a class colour."""
    values = np.arange(256).astype(np.uint8)
    colours = class_colour(values).astype(np.int64)
    codes = (colours[:, 0] << 16) | (colours[:, 1] << 8) | colours[:, 2]
    lookup = dict(zip(codes.tolist(), range(256)))
    img = img.astype(np.int64)
    pix = (img[..., 0] << 16) | (img[..., 1] << 8) | img[..., 2]
    flat = np.array([lookup.get(int(p), -1) for p in pix.ravel()])
    return flat.reshape(pix.shape)


def write_voc_layout(root: str, samples: Dict[str, Tuple[np.ndarray, np.ndarray]],
                     splits: Optional[Dict[str, List[str]]] = None,
                     label_dir: str = 'SegmentationClass', label_mode: str = 'P',
                     jpeg_quality: int = 95) -> str:
    """Write ``samples`` (id -> (BGR image, label)) under ``root/VOC2012``.

    Returns:
        str: the ``VOC2012`` folder (the dataset's data_root).
    """
    voc = osp.join(root, 'VOC2012')
    for sub in ('JPEGImages', label_dir, 'ImageSets/Segmentation'):
        os.makedirs(osp.join(voc, sub), exist_ok=True)
    for stem, (img, label) in samples.items():
        if img is not None:
            cv2.imwrite(osp.join(voc, 'JPEGImages', stem + '.jpg'), img,
                        [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
        if label is not None:
            save_label_png(osp.join(voc, label_dir, stem + '.png'), label, label_mode)
    for name, stems in (splits or {}).items():
        with open(osp.join(voc, 'ImageSets/Segmentation', name + '.txt'), 'w') as f:
            f.writelines(s + '\n' for s in stems)
    return voc


def random_sample(h: int, w: int, seed: int, classes=range(21)):
    """(noise BGR image, block label) pair."""
    rng = np.random.default_rng(seed + 1000)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return img, block_label(h, w, classes, seed=seed)
