"""Atomic writes (killed at every point inside), completeness checks, newest-complete search."""
import errno
import os
import os.path as osp
import signal

import pytest
import torch

from fcn_mm.utils.checkpoint_files import (atomic_write, find_latest_complete_checkpoint,
                                           is_complete_checkpoint, remove_stale_temp_files)

OLD = b'old content ' * 1000
NEW = b'new content ' * 2000


def _write_in_killed_child(path, fault, data=NEW, kind='ckpt'):
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        try:
            os.environ['FCN_MM_FAULT_INJECT'] = fault
            atomic_write(data, path, kind=kind)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


@pytest.mark.parametrize('kind', ['ckpt', 'pointer'])
@pytest.mark.parametrize('stage,expect_new,expect_temp', [
    ('partial', False, True), ('fsynced', False, True), ('renamed', True, False)])
def test_kill_inside_atomic_write_leaves_old_or_new_file(tmp_path, kind, stage,
                                                         expect_new, expect_temp):
    path = str(tmp_path / 'iter_2.pth')
    with open(path, 'wb') as f:
        f.write(OLD)
    assert _write_in_killed_child(path, f'{kind}_{stage}', kind=kind) == signal.SIGKILL
    with open(path, 'rb') as f:
        assert f.read() == (NEW if expect_new else OLD)
    temps = [n for n in os.listdir(tmp_path) if '.tmp-' in n]
    assert bool(temps) == expect_temp
    assert sorted(remove_stale_temp_files(str(tmp_path))) == sorted(
        str(tmp_path / n) for n in temps)
    assert os.listdir(tmp_path) == ['iter_2.pth']


def test_fault_point_counts_occurrences(tmp_path):
    path = str(tmp_path / 'a.pth')
    # the 2nd time: the first write completes, the second is killed half way
    pid = os.fork()
    if pid == 0:
        try:
            os.environ['FCN_MM_FAULT_INJECT'] = 'ckpt_partial:2'
            atomic_write(OLD, path)
            atomic_write(NEW, path)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    with open(path, 'rb') as f:
        assert f.read() == OLD


def test_atomic_write_failure_names_path_and_removes_temp(tmp_path, monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(os, 'fsync', no_space)
    path = str(tmp_path / 'iter_1.pth')
    with pytest.raises(OSError, match=r'iter_1\.pth.*No space left') as info:
        atomic_write(NEW, path)
    assert info.value.errno == errno.ENOSPC
    assert os.listdir(tmp_path) == []


def test_atomic_write_below_a_file_names_path(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(OSError, match='file/ckpt/iter_1.pth'):
        atomic_write(b'x', str(blocker / 'ckpt' / 'iter_1.pth'))


def _save(path, step):
    torch.save({'meta': {'iter': step}, 'state_dict': {'w': torch.ones(64) * step}}, path)


def test_truncated_checkpoint_is_not_complete(tmp_path):
    path = str(tmp_path / 'iter_1.pth')
    _save(path, 1)
    assert is_complete_checkpoint(path)
    data = open(path, 'rb').read()
    for cut in (10, len(data) // 2, len(data) - 5):
        with open(path, 'wb') as f:
            f.write(data[:cut])
        assert not is_complete_checkpoint(path)
    assert not is_complete_checkpoint(str(tmp_path / 'missing.pth'))


def test_newest_complete_checkpoint_is_found(tmp_path):
    folder = str(tmp_path)
    pointer = osp.join(folder, 'last_checkpoint')
    assert find_latest_complete_checkpoint([folder], pointer=pointer) is None
    for step in (2, 3, 10):
        _save(osp.join(folder, f'iter_{step}.pth'), step)
    with open(osp.join(folder, 'iter_12.pth'), 'wb') as f:  # truncated, newest number
        f.write(open(osp.join(folder, 'iter_10.pth'), 'rb').read()[:100])
    _save(osp.join(folder, '.iter_11.pth.tmp-1-abcd'), 11)  # temp files never count
    with open(pointer, 'w') as f:  # the pointer lags behind (killed before update)
        f.write(osp.join(folder, 'iter_3.pth'))
    assert find_latest_complete_checkpoint([folder], pointer=pointer) == \
        osp.join(folder, 'iter_10.pth')
    with open(pointer, 'w') as f:  # the pointer names a file that is gone
        f.write(osp.join(folder, 'iter_99.pth'))
    assert find_latest_complete_checkpoint([folder], pointer=pointer) == \
        osp.join(folder, 'iter_10.pth')
    other = str(tmp_path / 'elsewhere')
    os.makedirs(other)
    _save(osp.join(other, 'renamed.pth'), 7)  # a pointer target without a step number
    with open(pointer, 'w') as f:
        f.write(osp.join(other, 'renamed.pth'))
    assert find_latest_complete_checkpoint([folder], pointer=pointer) == \
        osp.join(other, 'renamed.pth')


def test_temp_files_of_live_writers_are_kept(tmp_path):
    mine = tmp_path / f'.iter_1.pth.tmp-{os.getppid()}-abcd'
    mine.write_bytes(b'x')
    assert remove_stale_temp_files(str(tmp_path)) == []
    assert mine.exists()


@pytest.mark.parametrize('fault', [None, 'pointer_partial'])
def test_a_save_does_not_copy_its_bytes(tmp_path, monkeypatch, fault):
    """8 MiB written with at most 1 MiB allocated on the way (the write once sliced the
    bytes in two for fault injection: one more copy of every checkpoint)."""
    import tracemalloc
    if fault:  # fault injection on, at another point: the split write, through memoryviews
        monkeypatch.setenv('FCN_MM_FAULT_INJECT', fault)
    else:
        monkeypatch.delenv('FCN_MM_FAULT_INJECT', raising=False)
    data = bytes(8 << 20)
    tracemalloc.start()
    try:
        atomic_write(data, tmp_path / 'big.pth')
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, peak
    assert (tmp_path / 'big.pth').read_bytes() == data
