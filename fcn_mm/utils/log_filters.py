"""Drop named log messages for the length of a ``with`` block.

For messages that a dependency logs unconditionally and that fcn_mm cannot avoid by
calling it differently (each use says why). Anything else passes through unchanged.
"""
import contextlib
import logging
from typing import Iterable, Iterator, List

__all__ = ['dropped_log_messages']


class _PrefixFilter(logging.Filter):
    """Reject records whose message starts with one of ``prefixes``."""

    def __init__(self, prefixes: Iterable[str]) -> None:
        super().__init__()
        self.prefixes = tuple(prefixes)
        self.dropped: List[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self.prefixes):
            self.dropped.append(message)
            return False
        return True


@contextlib.contextmanager
def dropped_log_messages(loggers: Iterable[logging.Logger],
                         *prefixes: str) -> Iterator[List[str]]:
    """Inside the block, ``loggers`` drop the messages that start with ``prefixes``.

    Args:
        loggers (Iterable[logging.Logger]): the loggers to filter (each once).
        *prefixes (str): message beginnings to drop.

    Yields:
        list[str]: the dropped messages, filled while the block runs.
    """
    filt = _PrefixFilter(prefixes)
    unique = list({id(logger): logger for logger in loggers}.values())
    for logger in unique:
        logger.addFilter(filt)
    try:
        yield filt.dropped
    finally:
        for logger in unique:
            logger.removeFilter(filt)
