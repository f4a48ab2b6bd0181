"""The weights_only allow-list and load_checkpoint_file: what loads, what is refused."""
import builtins
import collections
import os
import pickle
import random
import zipfile

import numpy as np
import pytest
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from fcn_mm.utils.safe_loading import (CheckpointLoadError, load_checkpoint_file,
                                       load_from_local)


class _Payload:
    """Unpickling this calls ``func(*args)``: what a malicious checkpoint does."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _save(obj, path, **kwargs):
    torch.save(obj, str(path), **kwargs)
    return str(path)


def test_numpy_and_rng_state_round_trip(tmp_path):
    np_state = np.random.RandomState(3).get_state()
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    state = dict(
        arr=np.arange(6, dtype=np.int16).reshape(2, 3), f32=np.float32(2.5),
        i64=np.int64(-7), dtype=np.dtype('<f8'), big_endian=np.arange(3, dtype='>i4'),
        fortran=fortran, flags=np.array([True, False]), yes=np.bool_(True),
        c64=np.complex64(1 - 2j), f16=np.arange(3, dtype=np.float16),
        nested=(np.uint8(3), [np.uint64(2 ** 63)]), np_rng=np_state,
        py_rng=random.Random(5).getstate(),
        torch_rng=torch.Generator().manual_seed(1).get_state(),
        weights=collections.OrderedDict(w=torch.ones(2)))
    loaded = load_checkpoint_file(_save(state, tmp_path / 'ok.pth'))
    np.testing.assert_array_equal(loaded['arr'], state['arr'])
    assert loaded['arr'].dtype == np.int16 and loaded['arr'].flags.writeable
    assert type(loaded['arr']) is np.ndarray and loaded['arr'].flags.owndata
    assert loaded['f32'] == np.float32(2.5) and type(loaded['f32']) is np.float32
    assert loaded['i64'] == -7 and loaded['dtype'] == np.dtype('<f8')
    assert type(loaded['dtype']) is type(np.dtype('<f8'))
    assert loaded['big_endian'].dtype.str == '>i4'
    assert loaded['big_endian'].tolist() == [0, 1, 2]
    assert loaded['fortran'].flags.f_contiguous
    np.testing.assert_array_equal(loaded['fortran'], fortran)
    assert loaded['flags'].tolist() == [True, False] and loaded['yes'] is np.True_
    assert loaded['c64'] == np.complex64(1 - 2j) and loaded['f16'].tolist() == [0, 1, 2]
    assert loaded['nested'] == (3, [2 ** 63]) and type(loaded['nested'][1][0]) is np.uint64
    assert loaded['np_rng'][0] == 'MT19937'
    np.testing.assert_array_equal(loaded['np_rng'][1], np_state[1])
    assert loaded['py_rng'] == state['py_rng']
    assert torch.equal(loaded['torch_rng'], state['torch_rng'])
    restored = np.random.RandomState()
    restored.set_state(loaded['np_rng'])
    assert restored.randint(1 << 30) == np.random.RandomState(3).randint(1 << 30)


def test_shared_arrays_and_dtypes_stay_shared(tmp_path):
    """The pickle's memo: one array referenced twice loads as one array."""
    arr = np.arange(4.0)
    loaded = load_checkpoint_file(_save(dict(a=arr, b=[arr, (arr,)]), tmp_path / 's.pth'))
    assert loaded['a'] is loaded['b'][0] is loaded['b'][1][0]


@pytest.mark.parametrize('empty', [np.zeros(0), np.zeros((0, 3), np.float32),
                                   np.zeros((2, 0), np.int64), np.array([], bool)])
def test_empty_arrays_load(tmp_path, empty):
    """pickle protocol 2 writes their b'' data as builtins.bytes()."""
    path = _save(dict(x=empty), tmp_path / 'empty.pth')
    assert b'bytes' in _data_pkl(path)
    loaded = load_checkpoint_file(path)['x']
    assert loaded.shape == empty.shape and loaded.dtype == empty.dtype


@pytest.mark.parametrize('value, kind', [
    (np.array(['ab', 'c']), 'unicode string'), (np.array([b'ab']), 'bytes string'),
    (np.datetime64('2020-01-02'), 'datetime'), (np.array([1, 'a'], dtype=object), 'object'),
    (np.zeros(2, dtype=[('a', 'f4'), ('b', 'i4')]), 'void/structured'),
    (np.zeros(2, dtype=[('a', 'f4')])[0], 'void/structured'),
    (np.ma.masked_array([1, 2]), 'numpy.ma.core._mareconstruct')])
def test_numpy_content_other_than_plain_numbers_is_refused(tmp_path, value, kind):
    path = _save(dict(meta=dict(x=value)), tmp_path / 'other.pth')
    with pytest.raises(CheckpointLoadError, match='other.pth') as info:
        load_checkpoint_file(path)
    assert kind in str(info.value)


def _data_pkl(path):
    with zipfile.ZipFile(path) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith('data.pkl')))


def test_numpy1_module_names_load(tmp_path):
    """Checkpoints written under numpy 1 name ``numpy.core.multiarray``."""
    path = _save(dict(a=np.arange(4.0), s=np.float64(1.5)), tmp_path / 'np.pth',
                 _use_new_zipfile_serialization=False)
    data = open(path, 'rb').read()
    assert b'numpy._core.multiarray' in data
    with open(path, 'wb') as f:
        f.write(data.replace(b'numpy._core.multiarray', b'numpy.core.multiarray'))
    assert b'numpy._core' not in open(path, 'rb').read()
    loaded = load_checkpoint_file(path)
    np.testing.assert_array_equal(loaded['a'], np.arange(4.0))
    assert loaded['s'] == 1.5


def test_history_buffer_loads_with_its_statistics(tmp_path):
    buf = HistoryBuffer([1.0, 3.0], [1, 1])
    loaded = load_checkpoint_file(_save(dict(hub=dict(loss=buf)), tmp_path / 'hb.pth'))
    hub_buf = loaded['hub']['loss']
    assert isinstance(hub_buf, HistoryBuffer)
    assert hub_buf.statistics('mean') == 2.0 and hub_buf.statistics('max') == 3.0


@pytest.mark.parametrize('target,attr', [(collections.OrderedDict, 'fromkeys'),
                                         (HistoryBuffer, '__init__'),
                                         (HistoryBuffer, 'register_statistics')])
def test_getattr_stand_in_refuses_everything_else(tmp_path, target, attr):
    path = _save(dict(x=_Payload(getattr, target, attr)), tmp_path / 'ga.pth')
    with pytest.raises(CheckpointLoadError, match=r"builtins\.getattr") as info:
        load_checkpoint_file(path)
    assert 'ga.pth' in str(info.value) and attr in str(info.value)


@pytest.mark.parametrize('kind', ['os.system', 'exec', 'eval'])
def test_malicious_checkpoint_is_refused(tmp_path, kind):
    marker = tmp_path / 'pwned'
    code = f'open({str(marker)!r}, "w").write("x")'
    payload = {'os.system': _Payload(os.system, f'touch {marker}'),
               'exec': _Payload(builtins.exec, code),
               'eval': _Payload(builtins.eval, code)}[kind]
    refused = {'os.system': os.system.__module__ + '.system',
               'exec': 'builtins.exec', 'eval': 'builtins.eval'}[kind]
    path = _save(dict(state_dict={}, meta=payload), tmp_path / 'evil.pth')
    with pytest.raises(CheckpointLoadError) as info:
        load_checkpoint_file(path)
    message = str(info.value)
    assert path in message and refused in message
    assert isinstance(info.value, ValueError)
    # the same checkpoint through mmengine's loaders (load_from / --resume / Pretrained)
    with pytest.raises(CheckpointLoadError, match='evil.pth'):
        _load_checkpoint(path, map_location='cpu')
    assert not marker.exists()


def test_payload_is_real_when_unpickled_unsafely(tmp_path):
    """Guards the test above against passing vacuously: plain pickle runs it."""
    marker = tmp_path / 'pwned'
    payload = _Payload(builtins.exec, f'open({str(marker)!r}, "w").write("x")')
    pickle.loads(pickle.dumps(payload))
    assert marker.exists()


def test_missing_and_corrupt_files(tmp_path):
    missing = tmp_path / 'nope' / 'ckpt.pth'
    with pytest.raises(FileNotFoundError, match=r'nope/ckpt\.pth.*does not exist'):
        load_checkpoint_file(missing)
    with pytest.raises(FileNotFoundError, match='is a directory'):
        load_checkpoint_file(tmp_path)
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'PK\x03\x04 definitely not a checkpoint')
    with pytest.raises((ValueError, pickle.UnpicklingError), match='bad.pth'):
        load_checkpoint_file(bad)


def test_mmengine_local_scheme_is_ours(tmp_path):
    loader = CheckpointLoader._get_checkpoint_loader(str(tmp_path / 'a.pth'))
    assert loader is load_from_local
    path = _save(dict(state_dict=dict(w=torch.arange(3))), tmp_path / 'a.pth')
    assert torch.equal(_load_checkpoint(path)['state_dict']['w'], torch.arange(3))
