"""Helpers of the preemption tests: a hook that holds training at one iteration, a hook
that kills one torchrun worker on its first attempt, and a training process whose output
is read line by line while it runs.

``PauseAtIterHook`` and ``KillRankAtIterHook`` live in mmengine's root HOOKS (reached from the ``fcn_mm`` scope
through the parent), so fcn_mm's registry stays clean; the training subprocess imports
this module through ``custom_imports``.
"""
import os
import os.path as osp
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import List, Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS as ROOT_HOOKS

PAUSE_MARKER = 'PAUSED_BEFORE_ITER'


@ROOT_HOOKS.register_module(name='PauseAtIterHook', force=True)
class PauseAtIterHook(Hook):
    """Before each iteration of ``pause_at`` (1-based), print a marker and wait for a file.

    Args:
        pause_at (list[int]): the iterations to hold before.
        release_dir (str): training goes on before iteration ``n`` once the file
            ``<release_dir>/release_<n>`` exists (at most 120 s).
    """

    priority = 'VERY_HIGH'

    def __init__(self, pause_at: List[int], release_dir: str) -> None:
        self.pause_at = list(pause_at)
        self.release_dir = release_dir

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        step = runner.iter + 1
        if step not in self.pause_at:
            return
        print(f'{PAUSE_MARKER} {step}', flush=True)
        release = osp.join(self.release_dir, f'release_{step}')
        deadline = time.monotonic() + 120
        while not osp.exists(release) and time.monotonic() < deadline:
            time.sleep(0.02)


@ROOT_HOOKS.register_module(name='KillRankAtIterHook', force=True)
class KillRankAtIterHook(Hook):
    """SIGKILL the process of ``rank`` before iteration ``at_iter`` (1-based), as an OOM
    kill would, on torchrun's first attempt only (``TORCHELASTIC_RESTART_COUNT`` 0).

    Args:
        rank (int): the global rank to kill.
        at_iter (int): the iteration it dies before.
    """

    priority = 'VERY_HIGH'

    def __init__(self, rank: int, at_iter: int) -> None:
        self.rank, self.at_iter = rank, at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if (runner.rank == self.rank and runner.iter + 1 == self.at_iter
                and os.environ.get('TORCHELASTIC_RESTART_COUNT') == '0'):
            print(f'KILLING rank {self.rank} before iteration {self.at_iter}', flush=True)
            os.kill(os.getpid(), signal.SIGKILL)


class TrainProcess:
    """``python tools/train.py ...`` in its own session, its output gathered as it comes.

    Args:
        args (list[str]): arguments after ``python``.
        cwd (str): working folder (the repository root).
        env (dict): the environment.
    """

    def __init__(self, args: List[str], cwd: str, env: dict) -> None:
        self.proc = subprocess.Popen([sys.executable] + args, cwd=cwd, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.lines: List[str] = []
        self._queue: 'queue.Queue[Optional[str]]' = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 180) -> None:
        """Block until a line containing ``text`` was printed; fail if the process ends."""
        if any(text in line for line in self.lines):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f'the process ended (exit {self.proc.wait()}) before '
                                     f'printing {text!r}:\n{self.output[-6000:]}')
            self.lines.append(line)
            if text in line:
                return
        self.kill()
        raise AssertionError(f'no {text!r} within {timeout} s:\n{self.output[-6000:]}')

    def finish(self, timeout: float = 180) -> int:
        """Wait for the end; return the exit status (the output is in :attr:`output`)."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f'the process did not end within {timeout} s:\n'
                                 f'{self.output[-6000:]}')
        self._reader.join(timeout=30)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return code

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the process and its DataLoader workers (as slurm does)."""
        os.killpg(self.proc.pid, signum)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def output(self) -> str:
        return ''.join(self.lines)
