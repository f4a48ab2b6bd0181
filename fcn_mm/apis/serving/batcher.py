"""A bounded queue that groups requests into dynamic batches for inference threads.

A worker takes the oldest request, then waits up to ``max_wait_s`` for more requests with
the same batch key (the image size) until it has ``max_batch``; requests of other sizes
stay queued for the next batch, in their order. A full queue refuses at once (the
caller answers 503): the backlog never grows past ``queue_size``.
"""
import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Any, Callable, Deque, Hashable, List, NamedTuple, Optional, Sequence

__all__ = ['DynamicBatcher', 'QueueFull']

logger = logging.getLogger(__name__)


class QueueFull(Exception):
    """The batcher's queue holds ``queue_size`` requests already."""


class _Job(NamedTuple):
    key: Hashable
    item: Any
    future: Future


class DynamicBatcher:
    """Inference threads fed from a bounded queue, in batches of same-key items.

    Args:
        run_batch (Callable[[list], list]): takes a list of items (one key) and returns
            one result per item, in order. An exception fails every item of that batch
            (the threads keep running).
        max_batch (int): the most items in one batch (>= 1).
        max_wait_s (float): how long the first item of a batch waits for more (>= 0).
        queue_size (int): the most items waiting (>= 1); :meth:`submit` raises
            :class:`QueueFull` beyond it.
        workers (int): inference threads (>= 1).
        on_batch (Callable[[int], None], optional): called with each batch's size.
    """

    def __init__(self, run_batch: Callable[[List[Any]], Sequence[Any]], max_batch: int = 8,
                 max_wait_s: float = 0.005, queue_size: int = 64, workers: int = 1,
                 on_batch: Optional[Callable[[int], None]] = None):
        for name, value, low in (('max_batch', max_batch, 1), ('queue_size', queue_size, 1),
                                 ('workers', workers, 1)):
            if int(value) < low:
                raise ValueError(f'{name} must be >= {low}, got {value}')
        if max_wait_s < 0:
            raise ValueError(f'max_wait_s must be >= 0, got {max_wait_s}')
        self.run_batch = run_batch
        self.max_batch, self.max_wait_s = int(max_batch), float(max_wait_s)
        self.queue_size = int(queue_size)
        self.on_batch = on_batch
        self._pending: Deque[_Job] = deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._threads = [threading.Thread(target=self._work, name=f'fcn_mm-serve-{i}',
                                          daemon=True) for i in range(int(workers))]
        for thread in self._threads:
            thread.start()

    @property
    def depth(self) -> int:
        """Items waiting (not yet taken into a batch)."""
        return len(self._pending)

    def submit(self, key: Hashable, item: Any) -> Future:
        """Queue ``item``; its result (or exception) arrives on the returned future.

        Raises:
            QueueFull: ``queue_size`` items are waiting already.
            RuntimeError: the batcher is stopped.
        """
        future: Future = Future()
        with self._cond:
            if self._stopped:
                raise RuntimeError('the batcher is stopped')
            if len(self._pending) >= self.queue_size:
                raise QueueFull(f'{len(self._pending)} requests are queued already '
                                f'(--queue-size {self.queue_size})')
            self._pending.append(_Job(key, item, future))
            self._cond.notify_all()
        return future

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads; queued items fail with RuntimeError."""
        with self._cond:
            self._stopped = True
            left = list(self._pending)
            self._pending.clear()
            self._cond.notify_all()
        for job in left:
            job.future.set_exception(RuntimeError('the service is shutting down'))
        for thread in self._threads:
            thread.join(timeout)

    def _take_same_key(self, key: Hashable, limit: int) -> List[_Job]:
        """Remove and return up to ``limit`` queued jobs with ``key`` (lock held)."""
        taken, kept = [], deque()
        for job in self._pending:
            if len(taken) < limit and job.key == key:
                taken.append(job)
            else:
                kept.append(job)
        self._pending = kept
        return taken

    def _next_batch(self) -> Optional[List[_Job]]:
        with self._cond:
            while not self._pending and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return None
            batch = [self._pending.popleft()]
            deadline = time.monotonic() + self.max_wait_s
            while len(batch) < self.max_batch:
                batch += self._take_same_key(batch[0].key, self.max_batch - len(batch))
                remaining = deadline - time.monotonic()
                if len(batch) >= self.max_batch or remaining <= 0 or self._stopped:
                    break
                self._cond.wait(remaining)
            return batch

    def _work(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            jobs = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if not jobs:
                continue
            try:
                if self.on_batch is not None:
                    self.on_batch(len(jobs))
                results = list(self.run_batch([job.item for job in jobs]))
                if len(results) != len(jobs):
                    raise RuntimeError(f'run_batch returned {len(results)} results for '
                                       f'{len(jobs)} items')
            except Exception as e:  # one failed batch fails its requests, not the service
                logger.exception('inference failed on a batch of %d', len(jobs))
                for job in jobs:
                    job.future.set_exception(e)
                continue
            for job, result in zip(jobs, results):
                job.future.set_result(result)
