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
- Only the process that installed the handlers acts on them. A forked child that
  inherited them (a DataLoader worker) ignores the signals; :func:`ignore_in_worker`
  makes spawned workers ignore them too. Workers end when the main process shuts them
  down (or dies), so a signal sent to the whole process group does not kill a worker
  under the main process's feet.
- The handler only records the signal and writes one line to stderr (``os.write``);
  logging happens in the loop.
"""
import os
import signal
import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

__all__ = ['PREEMPTED_EXIT_CODE', 'DEFAULT_STOP_SIGNALS', 'StopSignalCatcher',
           'parse_signals', 'ignore_in_worker']

#: Exit status of a training process stopped by a stop signal after saving its checkpoint:
#: 75 is ``EX_TEMPFAIL`` of ``sysexits.h`` ("temporary failure, try again"). A job script
#: requeues (or resubmits with ``--resume``) when it sees it.
PREEMPTED_EXIT_CODE = 75
DEFAULT_STOP_SIGNALS = ('SIGTERM', 'SIGUSR1')


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


def ignore_in_worker(signals: Sequence[int], worker_init_fn: Optional[Callable],
                     worker_id: int) -> Any:
    """``worker_init_fn`` body: ignore ``signals`` in a DataLoader worker, then chain.

    Use as ``functools.partial(ignore_in_worker, signals, original_fn)`` (picklable for
    spawned workers when ``original_fn`` is).

    Args:
        signals (Sequence[int]): signal numbers to ignore.
        worker_init_fn (Callable, optional): the loader's own ``worker_init_fn``.
        worker_id (int): the worker's index (given by the DataLoader).

    Returns:
        Any: what ``worker_init_fn`` returns (None without one).
    """
    for sig in signals:
        signal.signal(sig, signal.SIG_IGN)
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
        return True

    def restore(self) -> None:
        """Put the handlers back that were in place before :meth:`install`."""
        if os.getpid() != self._pid or \
                threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if os.getpid() != self._pid:  # a forked child (DataLoader worker): the parent decides
            return
        if self._owner is not None and self._owner() is None:
            self._hand_back(signum, frame)
            return
        name = signal.Signals(signum).name
        self.received.append(name)
        if len(self.received) == 1:
            text = (f'fcn_mm: {name} received; training stops after the current iteration '
                    'and saves a checkpoint\n')
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
