"""StopSignalCatcher: signals become a request in the installing process only."""
import functools
import gc
import os
import signal
import time

import pytest
from torch.utils.data import DataLoader, Dataset

from fcn_mm.utils.stop_signals import StopSignalCatcher, guard_worker, parse_signals


@pytest.fixture
def previous_usr1():
    """A recording SIGUSR1 handler in place before each test (and restored after)."""
    calls = []
    old = signal.signal(signal.SIGUSR1, lambda signum, frame: calls.append(signum))
    yield calls
    signal.signal(signal.SIGUSR1, old)


def test_parse_signals_accepts_names_and_numbers_and_rejects_the_rest():
    assert parse_signals(['SIGTERM', 'usr1', int(signal.SIGUSR2), 'TERM']) == [
        signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2]
    with pytest.raises(ValueError, match="unknown signal 'SIGFOO'"):
        parse_signals(['SIGFOO'])
    with pytest.raises(ValueError, match='SIGKILL cannot be caught'):
        parse_signals(['SIGKILL'])


def test_first_signal_requests_later_ones_are_counted_and_restore_puts_back(previous_usr1):
    catcher = StopSignalCatcher(['SIGUSR1'])
    assert catcher.install()
    assert not catcher.requested
    os.kill(os.getpid(), signal.SIGUSR1)
    assert catcher.requested and catcher.received == ['SIGUSR1']
    os.kill(os.getpid(), signal.SIGUSR1)  # a second one: counted, the process lives on
    assert catcher.received == ['SIGUSR1', 'SIGUSR1']
    assert previous_usr1 == []  # the earlier handler did not see them
    catcher.restore()
    os.kill(os.getpid(), signal.SIGUSR1)
    assert previous_usr1 == [signal.SIGUSR1] and len(catcher.received) == 2


def test_a_forked_child_ignores_the_signal_while_armed_and_dies_of_it_after():
    catcher = StopSignalCatcher(['SIGTERM'])
    catcher.install()
    to_parent, to_child = os.pipe(), os.pipe()  # (read end, write end) each
    pid = None
    try:
        pid = os.fork()
        if pid == 0:  # child: the inherited handler
            os.kill(os.getpid(), signal.SIGTERM)  # armed: ignored, no request either
            if catcher.requested:
                os._exit(3)
            os.write(to_parent[1], b'x')
            os.read(to_child[0], 1)  # wait until the parent has disarmed
            os.kill(os.getpid(), signal.SIGTERM)  # now: the default action
            time.sleep(5)
            os._exit(4)
        assert os.read(to_parent[0], 1) == b'x'  # the child survived its first SIGTERM
        assert catcher.armed
        catcher.restore()  # disarms the child too (a shared flag)
        assert not catcher.armed
        os.write(to_child[1], b'y')
        _, status = os.waitpid(pid, 0)
        pid = None
    finally:
        catcher.restore()
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        for fd in to_parent + to_child:
            os.close(fd)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status
    assert not catcher.requested


def test_signals_go_back_to_the_previous_handler_once_the_owner_is_gone(previous_usr1):
    class Owner:
        pass

    owner = Owner()
    catcher = StopSignalCatcher(['SIGUSR1'])
    catcher.install(owner=owner)
    del owner
    gc.collect()
    os.kill(os.getpid(), signal.SIGUSR1)
    assert previous_usr1 == [signal.SIGUSR1] and not catcher.requested
    assert not catcher.installed


class _SignalSelf(Dataset):
    """Each item: the worker sends itself SIGTERM and says whether it lived on."""

    def __len__(self):
        return 2

    def __getitem__(self, index):
        os.kill(os.getpid(), signal.SIGTERM)
        return True


def test_dataloader_workers_ignore_the_signals_while_armed_and_chain_the_init_fn():
    catcher = StopSignalCatcher(['SIGTERM'])
    catcher.install()
    try:
        init = catcher.worker_init_fn(functools.partial(print, end=''))
        assert init.func is guard_worker
        loader = DataLoader(_SignalSelf(), batch_size=1, num_workers=1, worker_init_fn=init,
                            multiprocessing_context='fork')
        assert [bool(b) for b in loader] == [True, True]
    finally:
        catcher.restore()
    assert not catcher.requested  # the workers' signals did not reach the main process
