"""A bounded load test of a running service: concurrent clients on loopback for a fixed
time, every answer checked against the expected label map."""
import http.client
import io
import threading
import time
from typing import Dict, List, Optional, Sequence
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

__all__ = ['run_load', 'scrape_metric', 'smooth_random_image', 'random_weights_checkpoint',
           'near_ties', 'NEAR_TIE']

# logit gap (best - second best) below which a label may flip between a batch and a single
# image: the convolutions of a batch run other kernels, whose float32 sums differ by ~1e-6
NEAR_TIE = 1e-4


def smooth_random_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """An (H, W, 3) uint8 BGR image of random 8x8 colour blocks (labels vary over it)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (-(-height // 8), -(-width // 8), 3), dtype=np.uint8)
    blocks = np.kron(small, np.ones((8, 8, 1), dtype=np.uint8))
    return np.ascontiguousarray(blocks[:height, :width])


def random_weights_checkpoint(config: str, path: str, image_size: int = 32,
                              seed: int = 0) -> str:
    """Save random weights of ``config`` with BN statistics measured on random images.

    With PyTorch's default BN statistics (mean 0, variance 1) a random network's
    features are almost constant and one class covers every pixel; with statistics of
    its own activations the label maps vary, so that comparing them checks something.

    Args:
        config (str): the model config.
        path (str): the ``.pth`` file to write (``state_dict`` and ``meta.dataset_meta``).
        image_size (int): side of the 16 random images the statistics come from.
        seed (int): torch seed of the weights.

    Returns:
        str: ``path``.
    """
    import warnings

    import torch

    from ..inference import init_model
    torch.manual_seed(seed)
    model = init_model(config)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # a plain average over the batches below
            module.reset_running_stats()
    model.train()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # a forward in training mode, on purpose
        for step in range(4):
            images = [torch.from_numpy(smooth_random_image(image_size, image_size,
                                                           seed=10 + 4 * step + i))
                      .permute(2, 0, 1) for i in range(4)]
            batch = model.data_preprocessor(dict(inputs=images), False)['inputs']
            model(batch, mode='tensor')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=model.dataset_meta)), path)
    return path


def near_ties(seg_logits: np.ndarray, gap: float = NEAR_TIE) -> np.ndarray:
    """Pixels whose best two logits are within ``gap``: where a label may differ between
    equally correct float32 computations (a batch of images against one image).

    Args:
        seg_logits (np.ndarray | Tensor): (C, H, W) logits, ``inference_model``'s.
        gap (float): the tolerance. Defaults to :data:`NEAR_TIE`.

    Returns:
        np.ndarray: (H, W) bool.
    """
    logits = np.asarray(seg_logits, dtype=np.float64)
    if logits.shape[0] < 2:
        return np.zeros(logits.shape[1:], dtype=bool)
    top2 = np.partition(logits, -2, axis=0)[-2:]
    return (top2[1] - top2[0]) < gap


def _is_loopback(host: str) -> bool:
    return host in ('localhost', '::1') or host.startswith('127.')


def run_load(url: str, bodies: Sequence[bytes], expected: Sequence[np.ndarray],
             ambiguous: Optional[Sequence[np.ndarray]] = None, clients: int = 16, duration_s: float = 30.0, max_requests: int = 1_000_000,
             timeout_s: float = 60.0) -> Dict[str, float]:
    """Send ``bodies`` round-robin from ``clients`` threads for ``duration_s`` seconds.

    Each client keeps one connection and sends the next image as soon as the last one
    is answered (``POST /predict?format=png``); a 503 is counted and retried after its
    ``Retry-After`` (capped at 0.1 s). Every 200 answer's label map is compared with
    ``expected``; it may differ only at the ``ambiguous`` pixels (near ties, see
    :func:`near_ties`).

    Args:
        url (str): the service, ``http://127.0.0.1:PORT`` (loopback only).
        bodies (Sequence[bytes]): PNG files to send.
        expected (Sequence[np.ndarray]): (H, W) label map of each body.
        ambiguous (Sequence[np.ndarray], optional): (H, W) bool masks of the near ties
            of each body; None: every pixel must be equal.
        clients (int): concurrent clients. Defaults to 16.
        duration_s (float): how long to send. Defaults to 30.
        max_requests (int): a bound on the requests of all clients together.
        timeout_s (float): per-request socket timeout.

    Returns:
        dict: ``requests``, ``ok``, ``busy_503``, ``errors`` (other statuses and
        exceptions), ``wrong`` (200 with a label map unequal to ``expected`` outside
        the near ties), ``tie_flips`` (pixels that differ at near ties, all answers),
        ``seconds``, ``throughput`` (ok per second), ``p50_ms``, ``p90_ms``, ``p99_ms``
        (latency of the 200 answers).
    """
    parts = urlsplit(url)
    if not _is_loopback(parts.hostname or ''):
        raise ValueError(f'the load test runs on loopback only, got {url}')
    lock, latencies = threading.Lock(), []
    counts = dict(requests=0, ok=0, busy_503=0, errors=0, wrong=0, tie_flips=0)
    error_samples: List[str] = []
    start = time.perf_counter()
    stop_at = start + duration_s

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
        i = index
        while time.perf_counter() < stop_at:
            with lock:
                if counts['requests'] >= max_requests:
                    break
                counts['requests'] += 1
            k = i % len(bodies)
            i += 1
            sent = time.perf_counter()
            try:
                conn.request('POST', '/predict?format=png', body=bodies[k],
                             headers={'Content-Type': 'image/png'})
                response = conn.getresponse()
                data = response.read()
                status, retry = response.status, response.getheader('Retry-After')
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                                  timeout=timeout_s)
                with lock:
                    counts['errors'] += 1
                    error_samples.append(f'{type(e).__name__}: {e}')
                continue
            elapsed = time.perf_counter() - sent
            if status == 200:
                labels = np.asarray(Image.open(io.BytesIO(data)))
                if labels.shape != expected[k].shape:
                    right, flips = False, 0
                else:
                    differ = labels != expected[k]
                    loose = differ & ambiguous[k] if ambiguous is not None \
                        else np.zeros_like(differ)
                    right, flips = not (differ & ~loose).any(), int(loose.sum())
                with lock:
                    counts['ok'] += 1
                    counts['wrong'] += 0 if right else 1
                    counts['tie_flips'] += flips
                    latencies.append(elapsed)
            elif status == 503:
                with lock:
                    counts['busy_503'] += 1
                time.sleep(min(float(retry or 0.1), 0.1))
            else:
                with lock:
                    counts['errors'] += 1
                    error_samples.append(f'{status}: {data[:200]!r}')
        conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration_s + timeout_s + 10)
    seconds = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000 if latencies else np.asarray([np.nan])
    result = dict(counts, seconds=seconds, throughput=counts['ok'] / seconds,
                  p50_ms=float(np.percentile(ms, 50)), p90_ms=float(np.percentile(ms, 90)),
                  p99_ms=float(np.percentile(ms, 99)))
    result['error_samples'] = error_samples[:5]
    return result


def scrape_metric(url: str, name: str) -> float:
    """The value of one unlabelled sample (e.g. ``fcn_mm_serve_batch_size_sum``) of
    ``GET /metrics``."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request('GET', '/metrics')
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    for line in text.splitlines():
        if line.startswith(name + ' '):
            return float(line.split()[1])
    raise KeyError(f'{name} is not in {url}/metrics')
