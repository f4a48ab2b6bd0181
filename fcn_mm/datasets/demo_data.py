"""A small synthetic segmentation dataset ("demo shapes") in the Pascal VOC layout.

:func:`prepare_demo_data` draws coloured, textured shapes (circles, squares, triangles,
rings and stars; they do not overlap each other) on textured backgrounds, with thin
bars that occlude them. Colours are
drawn independently of the class, so colour alone cannot tell the classes apart: a model
has to look at shape. The result is written as::

    data_root/
      JPEGImages/{train,val}_NNNN.jpg
      SegmentationClass/{train,val}_NNNN.png      8-bit 'P' PNGs, VOC palette, 0..5
      ImageSets/Segmentation/{train,val}.txt
      demo_data.json                              the generation parameters (stamp)

Generation is deterministic (each image has its own seeded generator) and takes a few
seconds; it logs what it writes and how far it is (about four lines per split). It is
skipped when ``demo_data.json`` records the same parameters.
"""
import json
import os
import os.path as osp
import shutil
import time
import uuid
from typing import Dict, List, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log

from fcn_mm.utils.label_png import save_label_png
from fcn_mm.utils.palette import voc_colormap

__all__ = ['DEMO_CLASSES', 'DEMO_PALETTE', 'prepare_demo_data', 'draw_demo_sample']

DEMO_CLASSES = ('background', 'circle', 'square', 'triangle', 'ring', 'star')
DEMO_PALETTE = voc_colormap(len(DEMO_CLASSES))  # the first VOC colours

_FORMAT_VERSION = 3
_STAMP = 'demo_data.json'


def _blend(base: np.ndarray, other: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32: ``base`` where ``weight`` is 0, ``other`` where it is 1."""
    return base + (other - base) * weight[..., None]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A (size, size, 3) float32 background: smooth blotches of two random colours,
    sometimes with faint stripes."""
    base = rng.uniform(0, 255, 3).astype(np.float32)
    low = rng.uniform(0, 1, (4, 4)).astype(np.float32)
    weight = np.clip(cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC), 0, 1)
    image = _blend(base, rng.uniform(0, 255, 3).astype(np.float32), weight * 0.6)
    if rng.random() < 0.3:
        image = _blend(image, rng.uniform(0, 255, 3).astype(np.float32),
                       _stripes(rng, size, size) * rng.uniform(0.1, 0.2))
    return image


def _stripes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w) float32 0/1 stripes of random angle and period (4..16 px)."""
    angle, period = rng.uniform(0, np.pi), rng.uniform(4, 16)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = (xx * np.cos(angle) + yy * np.sin(angle)) / period
    return (np.sin(2 * np.pi * phase) > 0).astype(np.float32)


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """An (h, w, 3) float32 fill: a random colour, flat or with stripes, blotches or a
    gradient of a second random colour, plus grain."""
    base = rng.uniform(0, 255, 3).astype(np.float32)
    other = rng.uniform(0, 255, 3).astype(np.float32)
    kind = rng.integers(4)
    if kind == 0:
        weight = _stripes(rng, h, w) * rng.uniform(0.2, 0.6)
    elif kind == 1:
        low = rng.uniform(0, 1, (3, 3)).astype(np.float32)
        weight = np.clip(cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)
        weight *= rng.uniform(0.3, 0.7)
    elif kind == 2:
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ramp = xx * np.cos(angle) + yy * np.sin(angle)
        weight = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0) * rng.uniform(0.3, 0.8)
    else:
        weight = np.zeros((h, w), np.float32)
    grain = rng.standard_normal((h, w, 1), dtype=np.float32) * rng.uniform(2, 8)
    return _blend(base, other, weight) + grain


def _polygon(kind: str, center: Tuple[float, float], radius: float,
             angle: float) -> np.ndarray:
    """Vertices (K, 2) of a square, triangle or five-pointed star."""
    if kind == 'star':
        theta = angle + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, radius, radius * 0.5)
    else:
        count = 4 if kind == 'square' else 3
        theta = angle + np.arange(count) * 2 * np.pi / count
        radii = np.full(count, radius)
    return np.stack([center[0] + radii * np.cos(theta),
                     center[1] + radii * np.sin(theta)], axis=1)


def _shape_mask(kind: str, size: int, center: Tuple[float, float], radius: float,
                angle: float) -> np.ndarray:
    """A (size, size) bool mask of one shape (8 sub-pixel bits for smooth outlines)."""
    mask = np.zeros((size, size), np.uint8)
    scale = 256
    cx, cy = int(center[0] * scale), int(center[1] * scale)
    if kind in ('circle', 'ring'):
        cv2.circle(mask, (cx, cy), int(radius * scale), 1, -1, cv2.LINE_8, 8)
        if kind == 'ring':
            inner = radius * 0.55
            cv2.circle(mask, (cx, cy), int(inner * scale), 0, -1, cv2.LINE_8, 8)
    else:
        pts = np.round(_polygon(kind, center, radius, angle) * scale).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1, cv2.LINE_8, 8)
    return mask.astype(bool)


def _bar_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """A thin straight bar across the image (an occluder labelled background)."""
    mask = np.zeros((size, size), np.uint8)
    p1 = rng.uniform(0, size, 2)
    angle = rng.uniform(0, np.pi)
    d = np.array([np.cos(angle), np.sin(angle)]) * size
    a, b = np.round(p1 - d).astype(int), np.round(p1 + d).astype(int)
    cv2.line(mask, tuple(int(v) for v in a), tuple(int(v) for v in b), 1,
             int(rng.integers(2, 4)), cv2.LINE_8)
    return mask.astype(bool)


def _place_shapes(rng: np.random.Generator, size: int,
                  max_shapes: int) -> List[Tuple[int, Tuple[float, float], float]]:
    """Classes, centres and radii of 1..max_shapes shapes whose circumcircles do not
    overlap (so every shape keeps its whole outline; only the bars occlude)."""
    shapes: List[Tuple[int, Tuple[float, float], float]] = []
    for _ in range(int(rng.integers(1, max_shapes + 1))):
        cls = int(rng.integers(1, len(DEMO_CLASSES)))
        radius = rng.uniform(0.16, 0.32) * size
        for _attempt in range(20):
            center = rng.uniform(radius * 0.6, size - radius * 0.6, 2)
            if all(np.hypot(*(center - np.asarray(c))) >= radius + r + 2
                   for _, c, r in shapes):
                shapes.append((cls, (float(center[0]), float(center[1])), radius))
                break
    return shapes


def draw_demo_sample(rng: np.random.Generator, size: int,
                     max_shapes: int = 3) -> Tuple[np.ndarray, np.ndarray]:
    """Draw one image and its label map.

    Args:
        rng (np.random.Generator): the source of randomness (fully determines the sample).
        size (int): image height and width in pixels.
        max_shapes (int): at most this many shapes (at least one); shapes that find
            no free place are left out.

    Returns:
        tuple: ``image`` (size, size, 3) uint8 BGR and ``label`` (size, size) uint8 class
        indices into :data:`DEMO_CLASSES`.
    """
    image = _background(rng, size)
    label = np.zeros((size, size), np.uint8)
    for cls, center, radius in _place_shapes(rng, size, max_shapes):
        mask = _shape_mask(DEMO_CLASSES[cls], size, center, radius,
                           rng.uniform(0, 2 * np.pi))
        rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
        box = np.s_[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        fill = _texture(rng, rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
        image[box][mask[box]] = fill[mask[box]]
        label[mask] = cls
    for _ in range(int(rng.integers(0, 3))):
        mask = _bar_mask(rng, size)
        image[mask] = rng.uniform(0, 255, 3)
        label[mask] = 0
    image += rng.standard_normal(image.shape, dtype=np.float32) * 4
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image[..., ::-1]), label


def _log_progress(split: str, done: int, total: int, report_every: int) -> None:
    """Log ``split done/total`` at every ``report_every``-th image and at the end."""
    if done == total or done % report_every == 0:
        print_log(f'demo data: {split} {done}/{total} images', logger='current')


def _write_split(root: str, split: str, num: int, size: int, seed: int,
                 max_shapes: int) -> None:
    names = [f'{split}_{i:04d}' for i in range(num)]
    split_id = {'train': 0, 'val': 1}[split]
    report_every = max(1, -(-num // 4))  # about four lines per split
    for i, name in enumerate(names):
        rng = np.random.default_rng([seed, split_id, i])
        image, label = draw_demo_sample(rng, size, max_shapes)
        if not cv2.imwrite(osp.join(root, 'JPEGImages', name + '.jpg'), image,
                           [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f'could not write {name}.jpg under {root}')
        save_label_png(label, osp.join(root, 'SegmentationClass', name + '.png'),
                       DEMO_PALETTE)
        _log_progress(split, i + 1, num, report_every)
    with open(osp.join(root, 'ImageSets', 'Segmentation', split + '.txt'), 'w') as f:
        f.write(''.join(n + '\n' for n in names))


def _is_complete(data_root: str, params: Dict) -> bool:
    """Whether ``data_root`` holds demo data generated with exactly ``params``."""
    try:
        with open(osp.join(data_root, _STAMP)) as f:
            if json.load(f) != params:
                return False
    except (OSError, ValueError):
        return False
    for split in ('train', 'val'):
        for sub, ext in (('JPEGImages', '.jpg'), ('SegmentationClass', '.png')):
            last = osp.join(data_root, sub, f'{split}_{params[f"num_{split}"] - 1:04d}{ext}')
            if params[f'num_{split}'] > 0 and not osp.isfile(last):
                return False
    return True


def _check_args(num_train: int, num_val: int, image_size: int, max_shapes: int) -> None:
    for key, value, low in (('num_train', num_train, 1), ('num_val', num_val, 1),
                            ('image_size', image_size, 32), ('max_shapes', max_shapes, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f'demo_data.{key} must be an int >= {low}, got {value!r}')


def prepare_demo_data(data_root: str = 'data/demo', num_train: int = 2000,
                      num_val: int = 100, image_size: int = 128, seed: int = 0,
                      max_shapes: int = 3) -> str:
    """Generate the demo dataset under ``data_root`` unless it is already there.

    The data is written to a temporary sibling folder and moved into place at the end,
    so an interrupted run never leaves a half-written dataset that looks complete.
    An existing ``data_root`` is replaced only if it holds demo data (it has the stamp
    file ``demo_data.json``) generated with other parameters.

    Args:
        data_root (str): where to write. Defaults to ``'data/demo'``.
        num_train (int): number of training images. Defaults to 2000.
        num_val (int): number of validation images. Defaults to 100.
        image_size (int): height and width of every image. Defaults to 128.
        seed (int): the seed; same parameters give byte-identical files. Defaults to 0.
        max_shapes (int): at most this many shapes per image. Defaults to 3.

    Returns:
        str: ``data_root``.

    Raises:
        FileExistsError: ``data_root`` exists, is not empty and holds no demo stamp.
    """
    _check_args(num_train, num_val, image_size, max_shapes)
    params = dict(version=_FORMAT_VERSION, num_train=num_train, num_val=num_val,
                  image_size=image_size, seed=int(seed), max_shapes=max_shapes)
    if _is_complete(data_root, params):
        print_log(f'Demo data: {num_train} train + {num_val} val images found in '
                  f'{data_root}', logger='current')
        return data_root
    if osp.isdir(data_root) and os.listdir(data_root) and not osp.isfile(
            osp.join(data_root, _STAMP)):
        raise FileExistsError(
            f'demo_data.data_root={data_root!r} exists and is not demo data (no '
            f'{_STAMP}); remove it or choose another data_root')
    tmp = f'{data_root.rstrip("/")}.tmp-{uuid.uuid4().hex[:8]}'
    print_log(f'Generating the demo data into {data_root}: {num_train} train + {num_val} '
              f'val images of {image_size}x{image_size} px (JPEGImages/*.jpg, label PNGs '
              f'in SegmentationClass/, ImageSets/Segmentation/{{train,val}}.txt), '
              f'seed {seed}', logger='current')
    start = time.perf_counter()
    try:
        for sub in ('JPEGImages', 'SegmentationClass', osp.join('ImageSets', 'Segmentation')):
            os.makedirs(osp.join(tmp, sub))
        _write_split(tmp, 'train', num_train, image_size, int(seed), max_shapes)
        _write_split(tmp, 'val', num_val, image_size, int(seed), max_shapes)
        with open(osp.join(tmp, _STAMP), 'w') as f:
            json.dump(params, f, indent=1)
        _move_into_place(tmp, data_root, params)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_log(f'Demo data ready in {data_root} ({time.perf_counter() - start:.1f} s)',
              logger='current')
    return data_root


def _move_into_place(tmp: str, data_root: str, params: Dict) -> None:
    """Replace ``data_root`` by ``tmp``; another process may have finished first."""
    if osp.isdir(data_root):
        if _is_complete(data_root, params):
            return
        shutil.rmtree(data_root)
    os.makedirs(osp.dirname(osp.abspath(data_root)), exist_ok=True)
    try:
        os.rename(tmp, data_root)
    except OSError:
        if not _is_complete(data_root, params):
            raise
