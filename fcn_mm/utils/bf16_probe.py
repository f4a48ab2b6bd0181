"""Is bf16 autocast faster than float32 on this CPU? A short measurement, cached.

A CPU with AVX512-BF16 is not always faster in bf16: on some (e.g. an Intel Xeon
without AMX) oneDNN's bf16 convolutions run slower than its float32 ones. So the
answer is measured: a fixed set of convolutions (3x3 and 1x1, 256-1024 channels,
32x32 pixels, NHWC: oneDNN's native layout) is timed in float32 and under
``torch.autocast('cpu', bfloat16)``, forward only (inference) or forward + backward
(training), interleaved, and the minimum of a few repeats of each counts. It takes
a fraction of a second on an idle machine.

The answer is cached in a JSON file, one entry per CPU model, thread count, torch
version and mode: ``$FCN_MM_AMP_PROBE_CACHE`` if set, else
``$XDG_CACHE_HOME/fcn_mm/amp_probe.json`` (``~/.cache`` without XDG_CACHE_HOME). The
file is written atomically; a corrupt one is ignored with a warning and rewritten.
Delete it to measure again. A probe run while the 1-minute load average exceeds the
core count is used for that process only, not cached (other processes then compete
for the cores and the timings say more about them than about the CPU).
"""
import json
import os
import os.path as osp
import platform
import tempfile
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

__all__ = ['PROBE_SHAPES', 'CACHE_ENV', 'cpu_model_name', 'probe_cache_path', 'probe_key',
           'measure_bf16_speedup', 'machine_loaded', 'bf16_speedup']

# (in channels, out channels, kernel size, pixels per side): ResNet-50 bottleneck and
# FCN-head convolutions at the feature size of a 256x256 crop at output stride 8 (at
# 16x16 the backward kernels measured far noisier ratios)
PROBE_SHAPES: Tuple[Tuple[int, int, int, int], ...] = (
    (256, 256, 3, 32), (512, 512, 1, 32), (1024, 256, 1, 32))
CACHE_ENV = 'FCN_MM_AMP_PROBE_CACHE'
_CACHE_VERSION = 1
_MEMO: Dict[str, Dict[str, float]] = {}  # this process's answers, by probe_key


def cpu_model_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else ``platform.processor()``."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def probe_cache_path() -> str:
    """The cache file: ``$FCN_MM_AMP_PROBE_CACHE``, else the user's cache dir."""
    path = os.environ.get(CACHE_ENV)
    if path:
        return osp.abspath(osp.expanduser(path))
    root = os.environ.get('XDG_CACHE_HOME') or osp.join(osp.expanduser('~'), '.cache')
    return osp.join(root, 'fcn_mm', 'amp_probe.json')


def probe_key(training: bool, threads: Optional[int] = None) -> str:
    """The cache key: CPU model, thread count, torch version and mode."""
    threads = threads or torch.get_num_threads()
    mode = 'train' if training else 'infer'
    return f'{cpu_model_name()} | {threads} threads | torch {torch.__version__} | {mode}'


def _probe_steps(training: bool) -> List[Callable[[bool], None]]:
    """One callable per probe convolution, running it once in bf16 autocast or not."""
    gen = torch.Generator().manual_seed(0)
    steps = []
    for cin, cout, kernel, side in PROBE_SHAPES:
        x = torch.randn(1, cin, side, side, generator=gen)
        w = torch.randn(cout, cin, kernel, kernel, generator=gen) / (cin * kernel ** 2) ** 0.5
        x = x.contiguous(memory_format=torch.channels_last).requires_grad_(training)
        w = w.contiguous(memory_format=torch.channels_last).requires_grad_(training)

        def step(bf16: bool, x=x, w=w, kernel=kernel) -> None:
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
                y = F.conv2d(x, w, padding=kernel // 2)
            if training:
                y.backward(torch.ones_like(y))
                x.grad = w.grad = None

        steps.append(step)
    return steps


def measure_bf16_speedup(training: bool, repeat: int = 8,
                         budget_s: float = 0.5) -> Dict[str, float]:
    """Time the probe convolutions in float32 and bf16 autocast, now.

    Each convolution is timed on its own (a few milliseconds, so that on a busy
    machine some runs go through without being preempted), fp32 and bf16
    interleaved; the minimum per convolution and dtype counts, summed over the
    convolutions.

    Args:
        training (bool): forward + backward (True) or forward only (False).
        repeat (int): timed runs of each convolution and dtype (at least 2 run even
            past ``budget_s``). Defaults to 8.
        budget_s (float): stop repeating after this many seconds. Defaults to 0.5.

    Returns:
        dict: ``fp32_s`` and ``bf16_s`` (the sums of the minima) and ``ratio``
        (``fp32_s / bf16_s``: above 1, bf16 is faster).
    """
    steps = _probe_steps(training)
    best = [{False: float('inf'), True: float('inf')} for _ in steps]
    with torch.set_grad_enabled(training):
        for step in steps:  # warm-up: oneDNN creates its primitives
            step(False)
            step(True)
        start = time.perf_counter()
        for i in range(max(2, repeat)):
            for step, minima in zip(steps, best):
                for bf16 in (False, True):
                    t = time.perf_counter()
                    step(bf16)
                    minima[bf16] = min(minima[bf16], time.perf_counter() - t)
            if i >= 1 and time.perf_counter() - start > budget_s:
                break
    fp32_s = sum(m[False] for m in best)
    bf16_s = sum(m[True] for m in best)
    return dict(fp32_s=fp32_s, bf16_s=bf16_s, ratio=fp32_s / bf16_s)


def machine_loaded() -> bool:
    """Whether the 1-minute load average exceeds the core count (a probe then may
    measure the other processes: its answer is used but not cached)."""
    try:
        return os.getloadavg()[0] > (os.cpu_count() or 1)
    except OSError:
        return False


def _read_cache(path: str) -> Dict[str, dict]:
    """The cache's entries; {} when missing, and a warning when unreadable."""
    if not osp.isfile(path):
        return {}
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
        entries = data['entries']
        if data.get('version') != _CACHE_VERSION or not isinstance(entries, dict):
            raise ValueError(f"version {data.get('version')!r}, expected {_CACHE_VERSION}")
        return {k: v for k, v in entries.items()
                if isinstance(v, dict) and isinstance(v.get('ratio'), (int, float))}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        warnings.warn(f'AMP probe cache {path} is unreadable ({err}); ignoring it, it will '
                      'be rewritten')
        return {}


def _write_cache(path: str, entries: Dict[str, dict]) -> None:
    """Write the cache atomically (a temporary file, then os.replace)."""
    try:
        os.makedirs(osp.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.amp_probe.', suffix='.tmp', dir=osp.dirname(path))
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(dict(version=_CACHE_VERSION, entries=entries), f, indent=1,
                      sort_keys=True)
        os.replace(tmp, path)
    except OSError as err:
        warnings.warn(f'AMP probe cache {path} could not be written ({err}); the probe '
                      'will run again in the next process')


def bf16_speedup(training: bool) -> Dict[str, object]:
    """bf16's speed-up over float32 on this CPU, from the cache or measured now.

    Args:
        training (bool): the training probe (forward + backward) or inference's.

    Returns:
        dict: ``ratio`` (float32 time / bf16 time), ``fp32_s``, ``bf16_s``,
        ``loaded`` (measured on a loaded machine: then not written to the cache),
        ``key`` (:func:`probe_key`), ``cached`` (bool) and ``path`` (the cache file).
    """
    key, path = probe_key(training), probe_cache_path()
    if key in _MEMO:
        return dict(_MEMO[key], key=key, cached=True, path=path)
    entries = _read_cache(path)
    cached = key in entries
    if not cached:
        loaded = machine_loaded()
        entries[key] = dict(measure_bf16_speedup(training),
                            time=time.strftime('%Y-%m-%d %H:%M:%S'), loaded=loaded)
        if not loaded:
            _write_cache(path, entries)
    entry = {k: entries[key][k] for k in ('ratio', 'fp32_s', 'bf16_s', 'loaded')
             if k in entries[key]}
    _MEMO[key] = entry
    return dict(entry, key=key, cached=cached, path=path)
