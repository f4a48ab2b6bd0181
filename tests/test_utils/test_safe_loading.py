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
from mmengine.logging import MessageHub
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

import crafted_pickles
from fcn_mm.utils.safe_loading import (SAFE_GLOBALS, CheckpointLoadError,
                                       load_checkpoint_file, load_from_local)
from fcn_mm.utils.unpickle_guard import RefusedCheckpointContent


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


def test_missing_files_and_folders(tmp_path):
    missing = tmp_path / 'nope' / 'ckpt.pth'
    with pytest.raises(FileNotFoundError, match=r'nope/ckpt\.pth.*does not exist'):
        load_checkpoint_file(missing)
    with pytest.raises(FileNotFoundError, match='is a directory'):
        load_checkpoint_file(tmp_path)


def _not_a_checkpoint(tmp_path, kind):
    good = _save(dict(w=torch.randn(64), a=np.arange(8)), tmp_path / 'good.pth')
    legacy = _save(dict(w=torch.randn(64)), tmp_path / 'legacy.pth',
                   _use_new_zipfile_serialization=False)
    path = tmp_path / f'{kind}.pth'
    if kind == 'random_bytes':
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == 'empty':
        path.write_bytes(b'')
    elif kind == 'truncated_zip':
        data = open(good, 'rb').read()
        path.write_bytes(data[:len(data) // 2])
    elif kind == 'truncated_legacy':
        data = open(legacy, 'rb').read()
        path.write_bytes(data[:len(data) // 2])
    elif kind == 'other_zip':
        with zipfile.ZipFile(path, 'w') as archive:
            archive.writestr('notes.txt', 'not a checkpoint')
    return str(path)


@pytest.mark.parametrize('kind, says', [
    ('random_bytes', "is not a torch checkpoint: it is neither a zip archive nor a legacy "
                     "torch file"),
    ('empty', 'is empty (0 bytes), not a torch checkpoint'),
    ('truncated_zip', 'is truncated: it starts as a zip archive (torch.save) but its end '
                      'record is missing'),
    ('truncated_legacy', 'is truncated: its pickle ends too early'),
    ('other_zip', 'is not a torch checkpoint: a zip archive without data.pkl')])
def test_files_that_are_not_checkpoints_say_so(tmp_path, kind, says):
    path = _not_a_checkpoint(tmp_path, kind)
    with pytest.raises(CheckpointLoadError) as info:
        load_checkpoint_file(path)
    message = str(info.value)
    assert message.startswith(f'Checkpoint file {path!r} {says}'), message
    assert 'allow-list' not in message and 'documentation' not in message
    assert isinstance(info.value, ValueError)
    with pytest.raises(CheckpointLoadError, match=f'{kind}.pth'):  # load_from / --resume
        _load_checkpoint(path, map_location='cpu')


def test_empty_history_buffer_and_message_hub_state_load(tmp_path):
    hub = MessageHub(f'hub_{tmp_path.name}')
    for value in (3.0, 1.5, 2.25):
        hub.update_scalar('train/loss', value)
    hub.update_scalar('train/lr', np.float64(0.01))
    hub.update_info('palette', np.array([[0, 0, 0], [128, 0, 0]], np.uint8))
    hub.update_info('eta', np.float64(12.5))
    state = dict(message_hub=hub.state_dict(), empty=HistoryBuffer())
    loaded = load_checkpoint_file(_save(state, tmp_path / 'hub.pth'))
    empty = loaded['empty']
    assert type(empty) is HistoryBuffer and len(empty.data[0]) == 0
    assert empty.data[0].shape == (0,) and empty.data[1].shape == (0,)
    restored = MessageHub(f'restored_{tmp_path.name}')
    restored.load_state_dict(loaded['message_hub'])
    loss = restored.get_scalar('train/loss')
    assert type(loss) is HistoryBuffer
    assert loss.data[0].tolist() == [3.0, 1.5, 2.25]
    assert loss.mean() == pytest.approx(2.25) and loss.statistics('max') == 3.0
    assert loss.current() == 2.25 and loss.min(2) == 1.5
    assert restored.get_info('palette').tolist() == [[0, 0, 0], [128, 0, 0]]
    assert restored.get_info('eta') == 12.5 and type(restored.get_info('eta')) is np.float64


def test_history_buffer_statistics_are_the_class_own_whatever_the_file_says(tmp_path):
    """A file whose statistics table maps 'mean' to max and 'min' to current."""
    table = dict(crafted_pickles.OWN_METHODS, mean='max', min='current')
    path = crafted_pickles.write_checkpoint(str(tmp_path / 'swap.pth'),
                                            crafted_pickles.history_buffer(table))
    buf = load_checkpoint_file(path)['meta']
    assert type(buf) is HistoryBuffer and buf.data[0].tolist() == [1.0, 3.0]
    assert buf.statistics('mean') == 2.0 and buf.mean() == 2.0
    assert buf.statistics('min') == 1.0 and buf.statistics('max') == 3.0
    assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.mean
    assert 'statistics_methods' not in buf.__dict__
    assert HistoryBuffer([4.0, 8.0], [1, 1]).statistics('mean') == 6.0


def test_rebuilders_refuse_outside_fcn_mm_loader(tmp_path):
    """fcn_mm's globals, put on torch's list by hand, still rebuild nothing for a plain
    torch.load (e.g. another thread's while fcn_mm is loading)."""
    path = _save(dict(a=np.arange(3)), tmp_path / 'np.pth')
    with torch.serialization.safe_globals(SAFE_GLOBALS):
        with pytest.raises(pickle.UnpicklingError) as info:
            torch.load(path, weights_only=True)
    cause = info.value.__context__
    assert isinstance(cause, RefusedCheckpointContent)
    assert 'rebuilt only by fcn_mm.utils.safe_loading.load_checkpoint_file' in str(cause)


def test_loader_uses_its_own_list_and_restores_the_process_list(tmp_path):
    """Globals registered by someone else (here numpy's own dtype, the issue's hole) do
    not apply inside load_checkpoint_file, and are back afterwards."""
    path = crafted_pickles.write_checkpoint(
        str(tmp_path / 'v8.pth'), crafted_pickles.CORPUS['object_field_dtype_alone'][0](''))
    dtype_classes = [type(np.dtype('V8')), type(np.dtype('O'))]
    before = torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals([np.dtype] + dtype_classes)
    try:
        assert torch.load(path, weights_only=True)['meta'] == np.dtype([('a', 'O')])
        with pytest.raises(CheckpointLoadError, match="numpy dtype 'V8' is refused"):
            load_checkpoint_file(path)
        after = {id(g) for g in torch.serialization.get_safe_globals()}
        assert after == {id(g) for g in before} | {id(g) for g in [np.dtype] + dtype_classes}
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(before)


def test_mmengine_local_scheme_is_ours(tmp_path):
    loader = CheckpointLoader._get_checkpoint_loader(str(tmp_path / 'a.pth'))
    assert loader is load_from_local
    path = _save(dict(state_dict=dict(w=torch.arange(3))), tmp_path / 'a.pth')
    assert torch.equal(_load_checkpoint(path)['state_dict']['w'], torch.arange(3))


def test_old_numpy_dtype_flags_and_numpy1_names_load(tmp_path):
    """numpy 1 wrote dtype(code, 0, 1) and numpy.core.multiarray."""
    cp = crafted_pickles
    old_dtype = cp.build(cp.call(cp.glob('numpy', 'dtype'), cp.text('f8'), cp.num(0),
                                 cp.num(1)), cp._value(cp.PLAIN_STATE))
    ops = cp.call(cp.glob('numpy.core.multiarray', 'scalar'), old_dtype,
                  cp.raw_bytes(np.float64(2.5).tobytes()))
    path = cp.write_checkpoint(str(tmp_path / 'old.pth'), ops)
    value = load_checkpoint_file(path)['meta']
    assert value == 2.5 and type(value) is np.float64
