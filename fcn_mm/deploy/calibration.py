"""Calibration images for post-training quantisation: a config's data through its pipeline.

Call flow::

    calibration_images(cfg, num, split='train', pipeline='test')
      -> calibration_dataset_cfg()   the split's dataset config, its pipeline replaced by
                                     the config's test (or train) pipeline
      -> DATASETS.build(); ``num`` evenly spaced indices; sample['inputs']
      -> [(3, H_i, W_i) raw float images]  (what ``tools/test.py`` feeds the graph)
    ImageCalibrationReader(images, input_shape)
      -> get_next(): {'img': (1, 3, H, W) float32}, resized to a static input size

The reader follows ONNX Runtime's ``CalibrationDataReader`` protocol (``get_next``,
iteration, ``rewind``) without importing onnxruntime, so fcn_mm imports without it.
"""
import copy
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config

from fcn_mm.registry import DATASETS
from .metadata import INPUT_NAME

__all__ = ['CALIB_SPLITS', 'CALIB_PIPELINES', 'calibration_dataset_cfg', 'evenly_spaced',
           'calibration_images', 'ImageCalibrationReader']

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


def calibration_dataset_cfg(cfg: Config, split: str = 'train',
                            pipeline: str = 'test') -> dict:
    """The dataset config of ``split``, with the ``pipeline`` the images go through.

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
    dataset = copy.deepcopy(dict(dataset))
    if dataset.get('type') in ('ConcatDataset', 'RepeatDataset'):
        raise ValueError(f'{split}_dataloader.dataset is a {dataset["type"]}: calibrate on '
                         'a plain dataset (--calib-split or --cfg-options)')
    dataset['pipeline'] = _pipeline(cfg, pipeline)
    return dataset


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


def calibration_images(cfg: Config, num: int, split: str = 'train',
                       pipeline: str = 'test') -> List[torch.Tensor]:
    """``num`` images of the config's ``split`` after its ``pipeline``.

    Args:
        cfg (Config): the config (``default_scope`` fcn_mm; data already prepared).
        num (int): number of images (evenly spaced over the data set).
        split (str): 'train' (default), 'val' or 'test'.
        pipeline (str): 'test' (default) or 'train'.

    Returns:
        list[Tensor]: (3, H_i, W_i) float32 raw images, the pipeline's channel order.

    Raises:
        ValueError: ``num`` is not positive or the data set has fewer images.
    """
    if num < 1:  # before reading any data
        evenly_spaced(num, 0)
    dataset = DATASETS.build(calibration_dataset_cfg(cfg, split, pipeline))
    indices = evenly_spaced(num, len(dataset))
    return [dataset[i]['inputs'].float() for i in indices]


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
