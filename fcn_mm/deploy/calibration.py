"""Calibration images for post-training quantisation: a config's data through its pipeline.

Call flow::

    calibration_set(cfg, num, split='train', pipeline='test')
      -> calibration_dataset_cfg()   the split's dataset config, the pipeline of every
                                     part (a ConcatDataset's datasets; the dataset inside
                                     a RepeatDataset) replaced by the config's test (or
                                     train) pipeline
      -> DATASETS.build()
      -> calibration_indices()       ``num`` images split over the parts in proportion to
                                     their sizes (each part at least one while ``num``
                                     allows), evenly spaced within each part
      -> CalibrationSet(images, indices, part_sizes, per_part, img_paths)
                                     (3, H_i, W_i) raw float images: what ``tools/test.py``
                                     feeds the graph; calibration_images() returns them
    ImageCalibrationReader(images, input_shape)
      -> get_next(): {'img': (1, 3, H, W) float32}, resized to a static input size

The reader follows ONNX Runtime's ``CalibrationDataReader`` protocol (``get_next``,
iteration, ``rewind``) without importing onnxruntime, so fcn_mm imports without it.
"""
import copy
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config

from fcn_mm.registry import DATASETS
from .metadata import INPUT_NAME

__all__ = ['CALIB_SPLITS', 'CALIB_PIPELINES', 'calibration_dataset_cfg', 'evenly_spaced',
           'split_over_parts', 'dataset_part_sizes', 'calibration_indices', 'CalibrationSet',
           'calibration_set', 'calibration_images', 'ImageCalibrationReader']

CALIB_SPLITS = ('train', 'val', 'test')
CALIB_PIPELINES = ('test', 'train')


def _pipeline(cfg: Config, which: str) -> list:
    """The config's ``test_pipeline`` / ``train_pipeline`` (or its dataloader's)."""
    if which not in CALIB_PIPELINES:
        raise ValueError(f'calibration pipeline must be one of {CALIB_PIPELINES}, got {which!r}')
    pipeline = cfg.get(f'{which}_pipeline')
    if pipeline is None:
        loader = cfg.get(f'{which}_dataloader') or {}
        pipeline = (loader.get('dataset') or {}).get('pipeline')
    if pipeline is None:
        raise KeyError(f'the config has no `{which}_pipeline` (nor '
                       f'`{which}_dataloader.dataset.pipeline`) to calibrate with')
    return copy.deepcopy(list(pipeline))


def _with_pipeline(dataset: dict, pipeline: list, where: str) -> dict:
    """``dataset`` with ``pipeline`` in every part; a wrapper (RepeatDataset) unwrapped."""
    dataset = dict(dataset)
    if dataset.get('datasets') is not None:  # ConcatDataset
        parts = dataset['datasets']
        if not isinstance(parts, (list, tuple)) or not parts:
            raise ValueError(f'{where}.datasets must be a non-empty list of dataset '
                             f'configs, got {parts!r}')
        dataset['datasets'] = [_with_pipeline(part, pipeline, f'{where}.datasets[{i}]')
                               for i, part in enumerate(parts)]
        return dataset
    if dataset.get('dataset') is not None:  # RepeatDataset and similar wrappers
        # repeating adds no image: calibrate on the wrapped data set
        return _with_pipeline(dataset['dataset'], pipeline, f'{where}.dataset')
    dataset['pipeline'] = copy.deepcopy(pipeline)
    return dataset


def calibration_dataset_cfg(cfg: Config, split: str = 'train',
                            pipeline: str = 'test') -> dict:
    """The dataset config of ``split``, with the ``pipeline`` the images go through.

    A ``ConcatDataset`` (every VOC config's training set) keeps its parts, each with
    ``pipeline``; a ``RepeatDataset`` is replaced by the data set it repeats.

    Args:
        cfg (Config): a full config (``{split}_dataloader.dataset``).
        split (str): 'train', 'val' or 'test'. Defaults to 'train'.
        pipeline (str): 'test' (what inference sees; the default) or 'train'.

    Returns:
        dict: a dataset config for ``DATASETS.build``.
    """
    if split not in CALIB_SPLITS:
        raise ValueError(f'calibration split must be one of {CALIB_SPLITS}, got {split!r}')
    dataset = ((cfg.get(f'{split}_dataloader') or {}).get('dataset'))
    if not dataset:
        raise KeyError(f'the config has no `{split}_dataloader.dataset` to calibrate on')
    return _with_pipeline(copy.deepcopy(dict(dataset)), _pipeline(cfg, pipeline),
                          f'{split}_dataloader.dataset')


def evenly_spaced(num: int, total: int) -> List[int]:
    """``num`` indices spread over ``range(total)`` (the first is 0).

    Raises:
        ValueError: ``num`` is not positive or larger than ``total``.
    """
    if num < 1:
        raise ValueError(f'--calib must be a positive number of images, got {num}')
    if num > total:
        raise ValueError(f'--calib {num}: the calibration data set has only {total} images')
    return [int(i) for i in np.linspace(0, total, num, endpoint=False)]


def split_over_parts(num: int, sizes: Sequence[int]) -> List[int]:
    """How many of ``num`` images to take from parts of ``sizes`` images.

    In proportion to the sizes (largest remainders get the rounding, ties to the
    earlier part); while ``num`` is at least the number of non-empty parts, each of
    them gets one or more.

    Args:
        num (int): images in all, 1 <= num <= sum(sizes).
        sizes (Sequence[int]): images per part.

    Returns:
        list[int]: images per part (sum ``num``, each at most its part's size).

    Raises:
        ValueError: ``num`` is not positive or larger than ``sum(sizes)``.
    """
    total = int(sum(sizes))
    evenly_spaced(num, total)  # the range checks and their messages
    quotas = [num * size / total for size in sizes]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(sizes)), key=lambda i: (counts[i] - quotas[i], i))
    for i in order[:num - sum(counts)]:
        counts[i] += 1
    nonempty = [i for i, size in enumerate(sizes) if size > 0]
    if num >= len(nonempty):
        for i in nonempty:
            if counts[i] == 0:  # one from the part with the most (it has >= 2)
                donor = max(range(len(sizes)), key=lambda j: (counts[j], -j))
                counts[donor] -= 1
                counts[i] = 1
    return counts


def dataset_part_sizes(dataset) -> List[int]:
    """The sizes of a ``ConcatDataset``'s parts, or ``[len(dataset)]`` for one data set."""
    parts = getattr(dataset, 'datasets', None)
    if isinstance(parts, (list, tuple)) and parts:
        return [len(part) for part in parts]
    return [len(dataset)]


def calibration_indices(num: int, sizes: Sequence[int]) -> List[int]:
    """Indices into the concatenation of parts of ``sizes`` images (deterministic).

    :func:`split_over_parts` says how many per part; they are evenly spaced within
    their part (:func:`evenly_spaced`).

    Args:
        num (int): images in all.
        sizes (Sequence[int]): images per part, in concatenation order.

    Returns:
        list[int]: ``num`` increasing indices.
    """
    indices, offset = [], 0
    for count, size in zip(split_over_parts(num, sizes), sizes):
        if count:
            indices += [offset + i for i in evenly_spaced(count, size)]
        offset += size
    return indices


class CalibrationSet(NamedTuple):
    """Calibration images and where they come from.

    Attributes:
        images (list[Tensor]): (3, H_i, W_i) float32 raw images.
        indices (list[int]): their indices in the (concatenated) data set.
        part_sizes (list[int]): images per part of the data set (one entry for a
            plain data set).
        per_part (list[int]): calibration images drawn from each part.
        img_paths (list[str]): the image files ('' where the sample names none).
    """
    images: List[torch.Tensor]
    indices: List[int]
    part_sizes: List[int]
    per_part: List[int]
    img_paths: List[str]


def calibration_set(cfg: Config, num: int, split: str = 'train',
                    pipeline: str = 'test') -> CalibrationSet:
    """``num`` images of the config's ``split`` after its ``pipeline``, with their origin.

    Args:
        cfg (Config): the config (``default_scope`` fcn_mm; data already prepared).
        num (int): number of images (spread over the parts and within each part).
        split (str): 'train' (default), 'val' or 'test'.
        pipeline (str): 'test' (default) or 'train'.

    Returns:
        CalibrationSet: the images, their indices, the parts' sizes and counts.

    Raises:
        ValueError: ``num`` is not positive or the data set has fewer images.
    """
    if num < 1:  # before reading any data
        evenly_spaced(num, 0)
    dataset = DATASETS.build(calibration_dataset_cfg(cfg, split, pipeline))
    sizes = dataset_part_sizes(dataset)
    if sum(sizes) != len(dataset):
        sizes = [len(dataset)]
    indices = calibration_indices(num, sizes)
    images, paths = [], []
    for index in indices:
        sample = dataset[index]
        images.append(sample['inputs'].float())
        meta = getattr(sample.get('data_samples'), 'metainfo', None) or {}
        paths.append(str(meta.get('img_path', '')))
    return CalibrationSet(images, indices, sizes, split_over_parts(num, sizes), paths)


def calibration_images(cfg: Config, num: int, split: str = 'train',
                       pipeline: str = 'test') -> List[torch.Tensor]:
    """``num`` images of the config's ``split`` after its ``pipeline``.

    The images of :func:`calibration_set`.

    Args:
        cfg (Config): the config (``default_scope`` fcn_mm; data already prepared).
        num (int): number of images.
        split (str): 'train' (default), 'val' or 'test'.
        pipeline (str): 'test' (default) or 'train'.

    Returns:
        list[Tensor]: (3, H_i, W_i) float32 raw images, the pipeline's channel order.

    Raises:
        ValueError: ``num`` is not positive or the data set has fewer images.
    """
    return calibration_set(cfg, num, split, pipeline).images


class ImageCalibrationReader:
    """Feeds images to ONNX Runtime's calibrator one at a time.

    Args:
        images (Sequence[Tensor]): (3, H_i, W_i) raw float images.
        input_shape (Sequence, optional): the graph input's (N, 3, H, W); where H and
            W are ints (a static export) every image is resized (bilinear) to them.
    """

    def __init__(self, images: Sequence[torch.Tensor], input_shape: Optional[Sequence] = None):
        if not images:
            raise ValueError('no calibration images')
        shape = list(input_shape or [])
        self.size = (tuple(shape[2:4]) if len(shape) == 4 and
                     all(isinstance(d, int) and d > 0 for d in shape[2:4]) else None)
        self.images = list(images)
        self._iter: Iterator[torch.Tensor] = iter(self.images)

    def prepare(self, image: torch.Tensor) -> np.ndarray:
        batch = image.float()[None]
        if self.size is not None and tuple(batch.shape[2:]) != self.size:
            batch = F.interpolate(batch, size=self.size, mode='bilinear',
                                  align_corners=False).clamp(0, 255)
        return np.ascontiguousarray(batch.numpy(), dtype=np.float32)

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        """The next ``{'img': (1, 3, H, W) float32}``, or None at the end."""
        image = next(self._iter, None)
        return None if image is None else {INPUT_NAME: self.prepare(image)}

    def rewind(self) -> None:
        """Start again from the first image."""
        self._iter = iter(self.images)

    def __iter__(self):
        return self

    def __next__(self) -> Dict[str, np.ndarray]:
        item = self.get_next()
        if item is None:
            raise StopIteration
        return item

    def __len__(self) -> int:
        return len(self.images)
