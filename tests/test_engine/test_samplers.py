"""InfiniteSampler offsets and per-sample seeds; RNG state capture/restore."""
import pickle
import random

import numpy as np
import pytest
import torch

from fcn_mm.engine.samplers import InfiniteSampler, SampleSeededDataset, SeededIndex, sample_seed
from fcn_mm.utils.rng import capture_rng_state, preserved_rng, restore_rng_state


def _take(sampler, n):
    it = iter(sampler)
    return [next(it) for _ in range(n)]


def test_sampler_start_continues_the_same_stream():
    sampler = InfiniteSampler(list(range(5)), seed=3)
    stream = _take(sampler, 17)
    for epoch in range(3):  # each pass is a permutation
        assert sorted(stream[5 * epoch:5 * epoch + 5]) == list(range(5))
    assert stream[:5] != stream[5:10]
    for start in (1, 5, 7, 12):
        sampler.set_start(start)
        tail = _take(sampler, 17 - start)
        assert tail == stream[start:]
        assert [i.seed for i in tail] == [i.seed for i in stream[start:]]
    assert [i.seed for i in stream] == [sample_seed(3, p) for p in range(17)]
    assert len(set(i.seed for i in stream)) == 17


def test_sampler_ranks_split_the_global_stream():
    data = list(range(6))
    full = _take(InfiniteSampler(data, seed=1), 12)
    ranks = []
    for rank in range(2):
        sampler = InfiniteSampler(data, seed=1)
        sampler.rank, sampler.world_size = rank, 2
        sampler.set_start(2)  # two samples of this rank already consumed
        ranks.append(_take(sampler, 4))
    assert ranks[0] == full[4::2] and ranks[1] == full[5::2]
    assert [i.seed for i in ranks[1]] == [i.seed for i in full[5::2]]


def test_sampler_options_and_errors():
    ordered = _take(InfiniteSampler(list(range(3)), shuffle=False, seed=0,
                                    sample_seeds=False), 5)
    assert ordered == [0, 1, 2, 0, 1] and type(ordered[0]) is int
    with pytest.raises(ValueError, match='empty dataset'):
        InfiniteSampler([], seed=0)
    with pytest.raises(ValueError, match='start must be >= 0'):
        InfiniteSampler([1], seed=0).set_start(-1)


def test_seeded_index_pickles_with_its_seed():
    index = pickle.loads(pickle.dumps(SeededIndex(4, seed=99)))
    assert index == 4 and index.seed == 99 and isinstance(index, int)


class _RandomDataset:
    metainfo = {'classes': ('a',)}

    def __len__(self):
        return 3

    def __getitem__(self, idx):
        return (idx, random.random(), float(np.random.rand()), float(torch.rand(1)))


def test_seeded_dataset_depends_on_seed_only_and_keeps_outer_streams():
    dataset = SampleSeededDataset(_RandomDataset())
    torch.manual_seed(0)
    expected_next = torch.rand(1)
    torch.manual_seed(0)
    first = dataset[SeededIndex(1, seed=7)]
    assert torch.rand(1) == expected_next  # the caller's stream did not move
    assert dataset[SeededIndex(1, seed=7)] == first
    assert dataset[SeededIndex(1, seed=8)][1:] != first[1:]
    assert dataset[2][0] == 2 and len(dataset) == 3
    assert dataset.metainfo == {'classes': ('a',)}
    assert pickle.loads(pickle.dumps(dataset))[SeededIndex(1, seed=7)] == first


def _draws():
    return (random.random(), float(np.random.rand()), float(np.random.randn()),
            float(torch.rand(1)))


def test_rng_state_roundtrip_through_weights_only_checkpoint(tmp_path):
    np.random.randn()  # leave a cached gaussian in numpy's state
    state = capture_rng_state()
    expected = _draws()
    path = str(tmp_path / 'rng.pth')
    torch.save({'rng_state': state}, path)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    loaded = torch.load(path, weights_only=True)['rng_state']
    _draws()
    restore_rng_state(loaded)
    assert _draws() == expected
    with pytest.raises(KeyError, match='missing "numpy"'):
        restore_rng_state({'python': {}, 'torch': torch.get_rng_state()})


def test_preserved_rng_restores_every_stream():
    with preserved_rng():
        inside = _draws()
    assert _draws() == inside


@pytest.mark.parametrize('bad', [0, 2.5, '10', True])
def test_train_loop_rejects_bad_max_iters(bad):
    from fcn_mm.engine.loops import IterBasedTrainLoop
    with pytest.raises(ValueError, match='train_cfg.max_iters must be a positive integer'):
        IterBasedTrainLoop(runner=None, dataloader=None, max_iters=bad)
