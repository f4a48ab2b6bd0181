"""An InfiniteSampler that can start at any position, and per-sample seeds.

fcn_mm's ``InfiniteSampler`` (registered under mmengine's name) yields the same
stream as a function of ``(seed, position)``: epoch ``e`` of the stream is a
permutation drawn from a generator seeded with ``seed + e``, so a resumed run jumps to
position ``p`` without replaying data. Each yielded index is a :class:`SeededIndex`
(an ``int`` carrying a seed derived from ``(seed, position)``). Wrapped in
:class:`SampleSeededDataset`, the dataset prepares every sample under that seed, so
random augmentations depend on the sample's position in the stream only: not on
which DataLoader worker loads it, nor on ``num_workers``, nor on a resume.
"""
import itertools
from typing import Any, Iterator, Optional, Sized

import numpy as np
import torch
from mmengine.dataset import InfiniteSampler as MMEngineInfiniteSampler
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import DataLoader

from fcn_mm.registry import DATA_SAMPLERS, DATASETS
from fcn_mm.utils.rng import seeded_rng

__all__ = ['SeededIndex', 'InfiniteSampler', 'SampleSeededDataset', 'sample_seed',
           'offset_sampler']


def sample_seed(seed: int, position: int) -> int:
    """A 32-bit seed for the sample at ``position`` of the stream of ``seed``.

    Args:
        seed (int): the sampler's seed.
        position (int): the global position in the (all ranks) index stream.

    Returns:
        int: a seed in ``[0, 2**32)``.
    """
    return int(np.random.SeedSequence([seed % 2**63, position]).generate_state(1)[0])


class SeededIndex(int):
    """A dataset index that also carries the seed to prepare that sample with."""

    def __new__(cls, value: int, seed: int) -> 'SeededIndex':
        obj = super().__new__(cls, value)
        obj.seed = seed
        return obj

    def __reduce__(self):
        return (SeededIndex, (int(self), self.seed))

    def __repr__(self) -> str:
        return f'SeededIndex({int(self)}, seed={self.seed})'


@DATA_SAMPLERS.register_module()
class InfiniteSampler(MMEngineInfiniteSampler):
    """Endless shuffled (or ordered) indices that can start at any position.

    Args:
        dataset (Sized): the dataset.
        shuffle (bool): shuffle each pass over the data. Defaults to True.
        seed (int, optional): seed of the stream; None draws one shared by all ranks.
        sample_seeds (bool): yield :class:`SeededIndex` with per-sample seeds (used
            by :class:`SampleSeededDataset`). Defaults to True.
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: Optional[int] = None,
                 sample_seeds: bool = True) -> None:
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.size = len(dataset)
        if self.size == 0:
            raise ValueError('InfiniteSampler got an empty dataset: check the dataset '
                             'config (data_root, ann_file, data_prefix)')
        self.sample_seeds = sample_seeds
        self._start = 0

    @property
    def indices(self) -> Iterator[int]:
        """This rank's stream from the current start (mmengine compatibility)."""
        return iter(self)

    def set_start(self, start: int) -> None:
        """Make the next ``iter()`` begin after ``start`` samples of this rank.

        Args:
            start (int): samples this rank has already consumed (iterations done
                times the batch size).
        """
        if start < 0:
            raise ValueError(f'sampler start must be >= 0, got {start}')
        self._start = int(start)

    def _epoch_order(self, epoch: int) -> list:
        if not self.shuffle:
            return list(range(self.size))
        g = torch.Generator()
        g.manual_seed(self.seed + epoch)
        return torch.randperm(self.size, generator=g).tolist()

    def __iter__(self) -> Iterator[int]:
        """Yield this rank's indices from global position ``rank + start * world``."""
        position = self.rank + self._start * self.world_size
        epoch, offset = divmod(position, self.size)
        order = self._epoch_order(epoch)
        for position in itertools.count(position, self.world_size):
            e, offset = divmod(position, self.size)
            if e != epoch:
                epoch, order = e, self._epoch_order(e)
            index = order[offset]
            yield (SeededIndex(index, sample_seed(self.seed, position))
                   if self.sample_seeds else index)


class SampleSeededDataset:
    """Wraps a dataset so that a :class:`SeededIndex` is prepared under its seed.

    Python, NumPy and torch's CPU generator are seeded for the sample and restored
    afterwards, so loading in the main process (``num_workers=0``) leaves the
    training streams (dropout, ...) untouched. Plain ``int`` indices pass through.
    Other attributes (``metainfo``, ...) are the wrapped dataset's.

    Args:
        dataset (Dataset | dict): a map-style dataset or its config (built in
            fcn_mm's DATASETS).
    """

    def __init__(self, dataset: Any) -> None:
        if isinstance(dataset, dict):
            dataset = DATASETS.build(dataset)
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int) -> Any:
        seed = getattr(idx, 'seed', None)
        if seed is None:
            return self.dataset[idx]
        with seeded_rng(seed):
            return self.dataset[int(idx)]

    def full_init(self) -> None:
        """Fully initialise the wrapped dataset (mmengine's lazy-init protocol)."""
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def __getattr__(self, name: str) -> Any:
        if name == 'dataset' or name.startswith('__'):
            raise AttributeError(name)
        return getattr(self.dataset, name)


def offset_sampler(dataloader: DataLoader) -> Optional[Any]:
    """The sampler of ``dataloader`` if it can start at an offset (``set_start``), else None.

    Looks at ``dataloader.sampler``, or at ``batch_sampler.sampler`` when the loader
    batches through a batch sampler. The training loop and the ``CheckpointHook`` use it.

    Args:
        dataloader (DataLoader): a built DataLoader.

    Returns:
        InfiniteSampler | None: the sampler, or None when it has no ``set_start``.
    """
    sampler = (dataloader.sampler if dataloader.batch_size is not None else
               getattr(dataloader.batch_sampler, 'sampler', None))
    return sampler if hasattr(sampler, 'set_start') else None
