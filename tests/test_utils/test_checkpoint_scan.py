"""The pre-load scan on files beyond the opcode corpus, the rebuilt-bytes budget, and every
mmengine checkpoint scheme with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``."""
import io
import os
import struct
import zipfile

import numpy as np
import pytest
import torch
from mmengine.fileio import io as fileio_io
from mmengine.fileio.backends import registry_utils
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from fcn_mm.utils import register_all_modules
from fcn_mm.utils.numpy_rebuild import rebuild_array, rebuild_dtype, rebuild_empty_bytes
from fcn_mm.utils.pickle_scan import checkpoint_scan_problem
from fcn_mm.utils.safe_loading import (CheckpointLoadError, load_checkpoint_bytes,
                                       load_checkpoint_file)
from fcn_mm.utils.unpickle_guard import RefusedCheckpointContent, rebuilding


class _MakesFolder:
    """Unpickling this (with weights_only off) creates a folder: a visible payload."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.makedirs, (self.path,)


def _rezip(source: str, target: str, compress_pickle: bool) -> str:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, 'w') as new:
        for info in old.infolist():
            deflate = compress_pickle and info.filename.endswith('data.pkl')
            new.writestr(info.filename, old.read(info.filename),
                         compress_type=zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED)
    return target


def test_compressed_zip_records_are_refused(tmp_path):
    plain = str(tmp_path / 'plain.pth')
    torch.save({'w': torch.arange(4.0)}, plain)
    stored = _rezip(plain, str(tmp_path / 'stored.pth'), compress_pickle=False)
    assert load_checkpoint_file(stored)['w'].tolist() == [0, 1, 2, 3]
    deflated = _rezip(plain, str(tmp_path / 'deflated.pth'), compress_pickle=True)
    assert torch.load(deflated, weights_only=True)['w'].tolist() == [0, 1, 2, 3]
    with pytest.raises(CheckpointLoadError, match=r"zip record '.*data\.pkl' is compressed"):
        load_checkpoint_file(deflated)


def test_legacy_storage_larger_than_the_file_is_refused(tmp_path):
    legacy = str(tmp_path / 'legacy.pth')
    torch.save({'w': torch.arange(4.0)}, legacy, _use_new_zipfile_serialization=False)
    assert load_checkpoint_file(legacy)['w'].tolist() == [0, 1, 2, 3]
    with open(legacy, 'rb') as f:
        data = f.read()
    numel = b'K\x04N'  # BININT1 4, then view_metadata None: ('storage', ..., 4, None)
    assert data.count(numel) == 1
    huge = data.replace(numel, b'J' + struct.pack('<i', 10 ** 9) + b'N')
    problem = checkpoint_scan_problem(io.BytesIO(huge), len(huge))
    assert problem is not None and '4000000000 bytes of legacy storages' in problem
    with pytest.raises(CheckpointLoadError, match='legacy storages'):
        load_checkpoint_bytes(huge, 'legacy-huge.pth')


def test_rebuilders_keep_to_the_budget_of_the_file():
    """The second line behind the scan: rebuilt array data counts against the budget."""
    data = bytes(160)
    with rebuilding(budget=200):
        first = rebuild_array(*_ndarray_args())
        first.__setstate__((1, (20,), _f8(), False, data))
        second = rebuild_array(*_ndarray_args())
        with pytest.raises(RefusedCheckpointContent, match='more than the file can carry'):
            second.__setstate__((1, (20,), _f8(), False, data))
    assert first._fcn_mm_finish().nbytes == 160


def _f8():
    dtype = rebuild_dtype('f8')
    dtype.__setstate__((3, '<', None, None, None, -1, -1, 0))
    return dtype


def _ndarray_args():
    from fcn_mm.utils.numpy_rebuild import NumpyNdarrayName
    return NumpyNdarrayName, (0,), b'b'


def test_placeholders_cannot_be_created_by_a_file():
    from fcn_mm.utils.numpy_rebuild import NumpyArrayInProgress, NumpyDtypeInProgress
    with rebuilding(budget=0):
        for cls in (NumpyDtypeInProgress, NumpyArrayInProgress):
            with pytest.raises(RefusedCheckpointContent, match='did not make'):
                cls.__new__(cls)
        assert rebuild_empty_bytes() == b''


class _FakePetrel:
    """An mmengine file backend for s3:// and petrel:// that serves files from a dict."""
    files: dict = {}

    def __init__(self, **kwargs):
        pass

    def get(self, filepath):
        return self.files[str(filepath)]


@pytest.fixture
def fake_petrel(monkeypatch):
    register_all_modules()
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    monkeypatch.setitem(registry_utils.backends, 'petrel', _FakePetrel)
    monkeypatch.setattr(fileio_io, 'backend_instances', {})
    monkeypatch.setattr(_FakePetrel, 'files', {})
    return _FakePetrel.files


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize('url', ['s3://bucket/runs/iter_4.pth', 'petrel://bucket/iter_4.pth',
                                 'cluster1:s3://bucket/iter_4.pth'])
def test_s3_and_petrel_load_safely_with_weights_only_forced_off(fake_petrel, tmp_path, url):
    marker = str(tmp_path / 'payload_ran')
    fake_petrel[url] = _saved({'state_dict': {'w': torch.ones(2)}, 'a': np.arange(3)})
    loaded = _load_checkpoint(url, map_location='cpu')
    assert loaded['state_dict']['w'].tolist() == [1, 1] and loaded['a'].tolist() == [0, 1, 2]
    fake_petrel[url] = _saved({'meta': _MakesFolder(marker)})
    with pytest.raises(CheckpointLoadError, match=f"Refused to load checkpoint '{url}'"):
        _load_checkpoint(url, map_location='cpu')
    assert not os.path.exists(marker)
    assert CheckpointLoader._get_checkpoint_loader(url).__name__ == 'load_from_file_backend'


def test_mmengine_own_s3_loader_would_unpickle_with_the_variable_set(fake_petrel, tmp_path):
    """Guards the test above: mmengine's load_from_ceph runs the payload."""
    from mmengine.runner.checkpoint import load_from_ceph
    marker = str(tmp_path / 'payload_ran')
    fake_petrel['s3://bucket/x.pth'] = _saved({'meta': _MakesFolder(marker)})
    with pytest.warns(UserWarning, match='TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'):
        load_from_ceph('s3://bucket/x.pth')
    assert os.path.isdir(marker)


def test_every_registered_scheme_is_fcn_mm_s(fake_petrel):
    for prefix, loader in CheckpointLoader._schemes.items():
        assert loader.__module__.startswith('fcn_mm.'), (prefix, loader)
    with pytest.raises(CheckpointLoadError, match="does not load the 'pavi://' scheme"):
        _load_checkpoint('pavi://model/iter_4.pth', map_location='cpu')
