"""StopSignalCatcher: signals become a request in the installing process only."""
import functools
import gc
import os
import signal
import time

import pytest
from torch.utils.data import DataLoader, Dataset

from fcn_mm.utils.stop_signals import StopSignalCatcher, ignore_in_worker, parse_signals


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


def test_a_forked_child_ignores_the_inherited_handler():
    catcher = StopSignalCatcher(['SIGTERM'])
    catcher.install()
    try:
        pid = os.fork()
        if pid == 0:  # child: SIGTERM neither kills it nor sets the parent's request
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            os._exit(3 if catcher.requested else 0)
        _, status = os.waitpid(pid, 0)
    finally:
        catcher.restore()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
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


class _Dispositions(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        return signal.getsignal(signal.SIGTERM) == signal.SIG_IGN


def test_ignore_in_worker_makes_dataloader_workers_ignore_the_signals():
    chained = []
    init = functools.partial(ignore_in_worker, [int(signal.SIGTERM)],
                             functools.partial(chained.append))
    catcher = StopSignalCatcher(['SIGTERM'])
    catcher.install()
    try:
        loader = DataLoader(_Dispositions(), batch_size=1, num_workers=1,
                            worker_init_fn=init, multiprocessing_context='fork')
        assert [bool(b) for b in loader] == [True, True]
    finally:
        catcher.restore()
    assert signal.getsignal(signal.SIGTERM) != signal.SIG_IGN  # the main process: unchanged
