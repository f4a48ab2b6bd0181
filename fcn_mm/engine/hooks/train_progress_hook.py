"""TrainProgressHook: a live progress line while training runs on a terminal.

``tools/train.py`` adds this hook to every run (unless the config lists it already).
When the console log stream is a terminal, rank 0 redraws one line in place::

    iter 1200/3500 (34%)  loss 0.4312  11.8 it/s  ETA 0:03:15

at most every ``refresh_s`` seconds (and after the first and the last iteration), and
``val 40/100`` while validating. Every log record clears the line before it is printed,
so mmengine's interval logging is unchanged. On anything else (a file, a pipe, CI logs)
the hook does nothing.
"""
import collections
import logging
import shutil
import time
from datetime import timedelta
from typing import IO, Deque, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from fcn_mm.registry import HOOKS

__all__ = ['TrainProgressHook']

_CLEAR = '\r\033[K'  # carriage return, erase to the end of the line


def console_stream(logger: logging.Logger) -> Optional[IO]:
    """The stream of ``logger``'s console handler (not a file handler), if any."""
    for handler in logger.handlers:
        if isinstance(handler, logging.StreamHandler) \
                and not isinstance(handler, logging.FileHandler):
            return handler.stream
    return None


def _is_terminal(stream: Optional[IO]) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


class _LiveLine(logging.Filter):
    """One line redrawn in place on ``stream``; a handler filter that clears it first."""

    def __init__(self, stream: IO) -> None:
        super().__init__()
        self.stream = stream
        self.showing = False

    def draw(self, text: str) -> None:
        width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
        self.stream.write(_CLEAR + text[:width])
        self.stream.flush()
        self.showing = True

    def clear(self) -> None:
        if self.showing:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self.showing = False

    def filter(self, record: logging.LogRecord) -> bool:
        self.clear()  # a log line is about to be printed on this stream
        return True


@HOOKS.register_module()
class TrainProgressHook(Hook):
    """Show iteration, loss, it/s and ETA in one live line on a terminal (rank 0).

    Args:
        refresh_s (float): redraw at most this often, in seconds. Defaults to 0.5.
        window (int): iterations the speed (it/s, ETA) is averaged over. Defaults to 20.
        enabled (bool, optional): None (default): only when the console log stream
            is a terminal; False: never; True: whenever that stream exists.
    """

    priority = 'LOW'  # after LoggerHook: an interval log line comes first, then the line

    def __init__(self, refresh_s: float = 0.5, window: int = 20,
                 enabled: Optional[bool] = None) -> None:
        if refresh_s < 0 or window < 1:
            raise ValueError(f'TrainProgressHook needs refresh_s >= 0 and window >= 1, '
                             f'got refresh_s={refresh_s!r}, window={window!r}')
        self.refresh_s = float(refresh_s)
        self.enabled = enabled
        self._durations: Deque[float] = collections.deque(maxlen=int(window))
        self._line: Optional[_LiveLine] = None
        self._handler: Optional[logging.Handler] = None
        self._last_time = 0.0
        self._last_draw = 0.0
        self._since_draw = 0

    def before_train(self, runner) -> None:
        """Attach the live line to the console handler if it writes to a terminal."""
        if self.enabled is False or not is_main_process():
            return
        handler = next((h for h in runner.logger.handlers
                        if isinstance(h, logging.StreamHandler)
                        and not isinstance(h, logging.FileHandler)), None)
        stream = console_stream(runner.logger)
        if handler is None or not (self.enabled or _is_terminal(stream)):
            return
        self._line, self._handler = _LiveLine(stream), handler
        handler.addFilter(self._line)
        self._last_time = self._last_draw = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Time the iteration; redraw when ``refresh_s`` has passed (and at the ends)."""
        if self._line is None:
            return
        now = time.perf_counter()
        self._durations.append(now - self._last_time)
        self._last_time = now
        self._since_draw += 1
        done, total = runner.iter + 1, runner.max_iters
        if now - self._last_draw < self.refresh_s and done not in (1, total):
            return
        self._line.draw(self._train_text(runner, done, total))
        self._last_draw, self._since_draw = now, 0

    def _train_text(self, runner, done: int, total: int) -> str:
        rate = len(self._durations) / max(sum(self._durations), 1e-9)
        eta = timedelta(seconds=int(round((total - done) / rate)))
        parts = [f'iter {done}/{total} ({100 * done // max(total, 1)}%)']
        history = runner.message_hub.log_scalars.get('train/loss')
        if history is not None:
            parts.append(f'loss {history.mean(max(1, self._since_draw)):.4f}')
        parts += [f'{rate:.2f} it/s' if rate < 10 else f'{rate:.1f} it/s', f'ETA {eta}']
        return '  '.join(parts)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:
        """Show ``val i/N`` while validating (at the same refresh rate)."""
        if self._line is None:
            return
        now = time.perf_counter()
        total = len(runner.val_dataloader)
        if now - self._last_draw >= self.refresh_s or batch_idx + 1 == total:
            self._line.draw(f'val {batch_idx + 1}/{total}')
            self._last_draw = now

    def after_val(self, runner) -> None:
        """Leave validation out of the training speed."""
        if self._line is not None:
            self._line.clear()
            self._last_time = time.perf_counter()

    def after_train(self, runner) -> None:
        """Clear the line and detach from the console handler."""
        if self._line is None:
            return
        self._line.clear()
        self._handler.removeFilter(self._line)
        self._line = self._handler = None
