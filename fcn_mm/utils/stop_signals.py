"""Catch the signals a scheduler sends before it kills a job, and turn them into a request.

A job scheduler (slurm, Kubernetes, a cloud's spot-instance notice) sends ``SIGTERM`` some
seconds before it kills a job; slurm can be told to send ``SIGUSR1`` earlier
(``--signal=USR1@120``). :class:`StopSignalCatcher` replaces the default action of these
signals (terminate at once) by a flag that the training loop reads between iterations
(:class:`fcn_mm.engine.hooks.PreemptionHook`), so training stops at an iteration boundary,
with a checkpoint, and the process exits with :data:`PREEMPTED_EXIT_CODE`.

- The first signal sets the request; every later one (e.g. slurm's ``SIGTERM`` at the time
  limit while the checkpoint is being written) is counted and ignored, so it cannot cut
  the save short. Only ``SIGKILL`` stops the process then, and the atomic checkpoint
  writer (:mod:`fcn_mm.utils.checkpoint_files`) leaves the previous checkpoint intact.
- Only the process that installed the handlers acts on them. While training runs (the
  catcher is *armed*), child processes ignore the signals: a forked child that inherited
  the handler, and DataLoader workers started with :meth:`StopSignalCatcher.worker_init_fn`
  (spawned ones too), so a signal sent to the whole process group, as slurm does, does not
  kill a worker under the main process's feet. Once the catcher is disarmed
  (:meth:`~StopSignalCatcher.restore`, or at interpreter exit before multiprocessing
  terminates its children), the children react to the signals as usual again, so they
  can be terminated.
- The handler only records the signal and writes one line to stderr (``os.write``);
  logging happens in the loop.
"""
import atexit
import functools
import multiprocessing
import os
import signal
import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

__all__ = ['PREEMPTED_EXIT_CODE', 'DEFAULT_STOP_SIGNALS', 'StopSignalCatcher',
           'parse_signals', 'guard_worker']

#: Exit status of a training process stopped by a stop signal after saving its checkpoint:
#: 75 is ``EX_TEMPFAIL`` of ``sysexits.h`` ("temporary failure, try again"). A job script
#: requeues (or resubmits with ``--resume``) when it sees it.
PREEMPTED_EXIT_CODE = 75
DEFAULT_STOP_SIGNALS = tuple(name for name in ('SIGTERM', 'SIGUSR1')
                             if hasattr(signal, name))  # no SIGUSR1 on Windows


def parse_signals(names: Sequence[Union[str, int]]) -> List[signal.Signals]:
    """``['SIGTERM', 'USR1', 10]`` -> signal members.

    Args:
        names (Sequence[str | int]): signal names (with or without ``SIG``) or numbers.

    Returns:
        list[signal.Signals]: the signals, duplicates dropped.

    Raises:
        ValueError: an unknown name or number, or ``SIGKILL``/``SIGSTOP`` (cannot be caught).
    """
    if isinstance(names, (str, int)):
        names = [names]
    found: List[signal.Signals] = []
    for name in names:
        try:
            if isinstance(name, int):
                sig = signal.Signals(name)
            else:
                text = str(name).upper()
                sig = signal.Signals[text if text.startswith('SIG') else f'SIG{text}']
        except (KeyError, ValueError):
            raise ValueError(f'unknown signal {name!r}; expected names such as '
                             f"'SIGTERM' or 'SIGUSR1'") from None
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            raise ValueError(f'{sig.name} cannot be caught; choose e.g. SIGTERM or SIGUSR1')
        if sig not in found:
            found.append(sig)
    return found


def _child_handler(armed: Any, signum: int, frame: Any) -> None:
    """In a child process: ignore the signal while ``armed``, else its default action."""
    if armed.value:
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def guard_worker(signals: Sequence[int], armed: Any, worker_init_fn: Optional[Callable],
                 worker_id: int) -> Any:
    """``worker_init_fn`` body: the worker ignores ``signals`` while ``armed``, then chains.

    Use through :meth:`StopSignalCatcher.worker_init_fn` (picklable for spawned workers
    when the loader's own ``worker_init_fn`` is).

    Args:
        signals (Sequence[int]): signal numbers.
        armed: a shared ``multiprocessing`` value; non-zero while training runs.
        worker_init_fn (Callable, optional): the loader's own ``worker_init_fn``.
        worker_id (int): the worker's index (given by the DataLoader).

    Returns:
        Any: what ``worker_init_fn`` returns (None without one).
    """
    for sig in signals:
        signal.signal(sig, functools.partial(_child_handler, armed))
    return worker_init_fn(worker_id) if worker_init_fn is not None else None


class StopSignalCatcher:
    """Turn stop signals into a request flag, in the process that installs it.

    Args:
        signals (Sequence[str | int]): the signals to catch. Defaults to
            :data:`DEFAULT_STOP_SIGNALS`.

    Attributes:
        received (list[str]): names of the signals received, in order.
    """

    def __init__(self, signals: Sequence[Union[str, int]] = DEFAULT_STOP_SIGNALS) -> None:
        self.signals = parse_signals(signals)
        self.received: List[str] = []
        self._previous: Dict[signal.Signals, Any] = {}
        self._pid: Optional[int] = None
        self._owner: Optional[Callable[[], Any]] = None
        self._armed = multiprocessing.RawValue('b', 0)  # shared with forked children

    @property
    def armed(self) -> bool:
        """Whether child processes ignore the signals now (between install and restore)."""
        return bool(self._armed.value)

    @property
    def requested(self) -> bool:
        """Whether a stop signal has arrived since :meth:`install`."""
        return bool(self.received)

    @property
    def installed(self) -> bool:
        """Whether the handlers are in place."""
        return bool(self._previous)

    def install(self, owner: Any = None) -> bool:
        """Install the handlers (main thread only).

        Args:
            owner (Any, optional): the object that reads the request (e.g. the hook).
                When it has been garbage collected, a signal is handed back to the
                previous handler, so a run that ended by an exception does not leave
                the signals swallowed.

        Returns:
            bool: False when not in the main thread (Python allows handlers only there).
        """
        if threading.current_thread() is not threading.main_thread():
            return False
        self.received = []
        self._pid = os.getpid()
        self._owner = weakref.ref(owner) if owner is not None else None
        for sig in self.signals:
            self._previous.setdefault(sig, signal.signal(sig, self._handle))
        self._armed.value = 1
        # runs before multiprocessing's own exit handler (registered earlier), which
        # terminates the children that are still alive
        atexit.register(self._disarm)
        return True

    def worker_init_fn(self, worker_init_fn: Optional[Callable] = None) -> Callable:
        """A DataLoader ``worker_init_fn``: the worker ignores the signals while armed.

        Args:
            worker_init_fn (Callable, optional): the loader's own, called after.

        Returns:
            Callable: ``functools.partial`` of :func:`guard_worker`.
        """
        return functools.partial(guard_worker, [int(s) for s in self.signals], self._armed,
                                 worker_init_fn)

    def _disarm(self) -> None:
        self._armed.value = 0

    def restore(self) -> None:
        """Disarm, and put back the handlers that were in place before :meth:`install`."""
        if os.getpid() != self._pid:
            return
        self._disarm()
        atexit.unregister(self._disarm)
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if os.getpid() != self._pid:  # a forked child (DataLoader worker): the parent decides
            _child_handler(self._armed, signum, frame)
            return
        if self._owner is not None and self._owner() is None:
            self._hand_back(signum, frame)
            return
        name = signal.Signals(signum).name
        self.received.append(name)
        if len(self.received) == 1:
            text = (f'fcn_mm: {name} received; training stops after the current iteration '
                    '(under gradient accumulation: its window) and saves a checkpoint\n')
        else:
            text = (f'fcn_mm: {name} received while stopping ({self.received[0]} first); '
                    'ignored so that the checkpoint is written completely\n')
        try:
            os.write(2, text.encode())
        except OSError:
            pass

    def _hand_back(self, signum: int, frame: Any) -> None:
        """The owner is gone: restore the previous handlers and deliver the signal to them."""
        previous = self._previous.get(signal.Signals(signum), signal.SIG_DFL)
        self.restore()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            os.kill(os.getpid(), signum)
