"""The service's counters and histograms, written in the Prometheus text format (0.0.4)."""
import threading
from collections import Counter
from typing import Callable, Dict, Sequence, Tuple

__all__ = ['ServiceMetrics', 'LATENCY_BUCKETS', 'BATCH_BUCKETS']

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
PREFIX = 'fcn_mm_serve'


class _Histogram:
    def __init__(self, buckets: Sequence[float]):
        self.buckets = tuple(buckets)
        self.counts = [0] * len(self.buckets)
        self.count, self.sum = 0, 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.sum += value
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1

    def lines(self, name: str, labels: str = '') -> list:
        sep = ',' if labels else ''
        out = [f'{name}_bucket{{{labels}{sep}le="{_number(b)}"}} {c}'
               for b, c in zip(self.buckets, self.counts)]
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        braces = f'{{{labels}}}' if labels else ''
        out += [f'{name}_sum{braces} {self.sum!r}', f'{name}_count{braces} {self.count}']
        return out


def _number(value: float) -> str:
    return repr(float(value))


class ServiceMetrics:
    """Requests by path and status, latency, batch sizes and queue depth (thread-safe).

    Args:
        queue_depth (Callable[[], int]): reads the queue depth when metrics are written.
        queue_size (int): the queue's capacity (a gauge beside the depth).
    """

    def __init__(self, queue_depth: Callable[[], int], queue_size: int):
        self._lock = threading.Lock()
        self._requests: Counter = Counter()
        self._latency: Dict[str, _Histogram] = {}
        self._batches = _Histogram(BATCH_BUCKETS)
        self._queue_depth = queue_depth
        self._queue_size = int(queue_size)

    def observe_request(self, path: str, status: int, seconds: float) -> None:
        """Count a finished request and its latency (seconds, from arrival to answer)."""
        with self._lock:
            self._requests[(path, int(status))] += 1
            self._latency.setdefault(path, _Histogram(LATENCY_BUCKETS)).observe(seconds)

    def observe_batch(self, size: int) -> None:
        """Count one inference batch of ``size`` images."""
        with self._lock:
            self._batches.observe(size)

    def requests(self) -> Dict[Tuple[str, int], int]:
        """A copy of the request counts by (path, status)."""
        with self._lock:
            return dict(self._requests)

    def render(self) -> str:
        """All metrics in the Prometheus text exposition format."""
        with self._lock:
            lines = [f'# HELP {PREFIX}_requests_total Requests answered, by path and status.',
                     f'# TYPE {PREFIX}_requests_total counter']
            lines += [f'{PREFIX}_requests_total{{path="{path}",status="{status}"}} {count}'
                      for (path, status), count in sorted(self._requests.items())]
            lines += [f'# HELP {PREFIX}_request_duration_seconds Time from a request\'s '
                      'arrival to its answer.',
                      f'# TYPE {PREFIX}_request_duration_seconds histogram']
            for path, histogram in sorted(self._latency.items()):
                lines += histogram.lines(f'{PREFIX}_request_duration_seconds',
                                         f'path="{path}"')
            lines += [f'# HELP {PREFIX}_batch_size Images per inference batch.',
                      f'# TYPE {PREFIX}_batch_size histogram']
            lines += self._batches.lines(f'{PREFIX}_batch_size')
            lines += [f'# HELP {PREFIX}_queue_depth Requests waiting for inference.',
                      f'# TYPE {PREFIX}_queue_depth gauge',
                      f'{PREFIX}_queue_depth {int(self._queue_depth())}',
                      f'# HELP {PREFIX}_queue_capacity The most requests that may wait.',
                      f'# TYPE {PREFIX}_queue_capacity gauge',
                      f'{PREFIX}_queue_capacity {self._queue_size}']
        return '\n'.join(lines) + '\n'
