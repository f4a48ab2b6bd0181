"""The machine's dense matrix-multiply peak, for one dtype and thread count.

Two dense kernels are timed on square problems (best of several runs per size):

* ``mm``: ``torch.mm`` of two n x n matrices (MKL / cuBLAS);
* ``conv1x1`` (CPU only): an n -> n 1x1 convolution over a 64 x 64 NHWC image,
  i.e. a (4096 x n) @ (n x n) product run by oneDNN, the library behind PyTorch's
  CPU convolutions. On CPUs where MKL picks a narrow code path (e.g. AMD), oneDNN
  is much faster than ``mm``, and a network's convolutions can beat ``mm``.

``best`` is the larger of the two: the limit the benchmark's fractions refer to.
Each figure also comes with the process CPU time, which stays meaningful when other
processes share the cores (``gflops_cpu``: FLOPs per CPU-second times threads).
"""
from typing import Callable, Dict, Optional, Sequence

import torch
import torch.nn.functional as F

from .measure import time_runs

__all__ = ['DEFAULT_PEAK_SIZES', 'time_best', 'matmul_peak']

DEFAULT_PEAK_SIZES = (1024, 2048, 4096)
_CONV_SPATIAL = 64  # 64 x 64 pixels = 4096 rows of the product


def time_best(fn: Callable[[], object], repeat: int, device: torch.device) -> Dict[str, float]:
    """Best wall-clock and best CPU time of ``repeat`` calls after one warm-up call.

    Returns:
        dict: ``wall_s`` and ``cpu_s`` (process CPU time, all threads).
    """
    timing = time_runs(fn, warmup=1, repeat=max(1, repeat), device=device)
    return dict(wall_s=timing['min_s'], cpu_s=min(timing['cpu_times_s']))


def _kernel(kind: str, n: int, dtype: torch.dtype, device: torch.device):
    """(callable, FLOPs) of one n-sized problem of ``kind``."""
    gen = torch.Generator(device='cpu').manual_seed(n)
    if kind == 'mm':
        a = torch.randn(n, n, generator=gen).to(device=device, dtype=dtype)
        b = torch.randn(n, n, generator=gen).to(device=device, dtype=dtype)
        return (lambda: torch.mm(a, b)), 2 * n ** 3
    s = _CONV_SPATIAL
    x = torch.randn(1, n, s, s, generator=gen).to(device=device, dtype=dtype,
                                                   memory_format=torch.channels_last)
    w = torch.randn(n, n, 1, 1, generator=gen).to(device=device, dtype=dtype,
                                                   memory_format=torch.channels_last)
    return (lambda: F.conv2d(x, w)), 2 * s * s * n * n


def matmul_peak(dtype: torch.dtype = torch.float32, device: str = 'cpu',
                sizes: Sequence[int] = DEFAULT_PEAK_SIZES, repeat: int = 3,
                threads: Optional[int] = None) -> Dict[str, object]:
    """Dense matmul GFLOP/s of this machine (best over ``sizes``).

    Args:
        dtype (torch.dtype): float32, bfloat16 or float16.
        device (str): ``'cpu'`` or a CUDA device.
        sizes (Sequence[int]): square problem sizes n. Defaults to 1024, 2048, 4096.
        repeat (int): timed runs per size (the best one counts). Defaults to 3.
        threads (int, optional): ``torch.set_num_threads`` for the measurement
            (restored afterwards).

    Returns:
        dict: ``dtype``, ``threads``, per kernel (``mm``, and ``conv1x1`` on CPU)
        ``{'by_size': {n: gflops}, 'gflops': best, 'gflops_cpu': best by CPU
        time}``, and ``best`` / ``best_cpu``: the largest of the kernels.
    """
    device = torch.device(device)
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        kinds = ('mm', 'conv1x1') if device.type == 'cpu' else ('mm',)
        result: Dict[str, object] = dict(dtype=str(dtype).replace('torch.', ''),
                                         threads=torch.get_num_threads(),
                                         sizes=[int(n) for n in sizes])
        with torch.no_grad():
            for kind in kinds:
                by_size, by_size_cpu = {}, {}
                for n in sizes:
                    fn, flops = _kernel(kind, int(n), dtype, device)
                    t = time_best(fn, repeat, device)
                    by_size[int(n)] = flops / t['wall_s'] / 1e9
                    by_size_cpu[int(n)] = (flops / max(t['cpu_s'], 1e-9) / 1e9
                                           * result['threads'])
                    del fn
                result[kind] = dict(by_size=by_size, gflops=max(by_size.values()),
                                    gflops_cpu=max(by_size_cpu.values()))
        result['best'] = max(result[k]['gflops'] for k in kinds)
        result['best_cpu'] = max(result[k]['gflops_cpu'] for k in kinds)
        return result
    finally:
        torch.set_num_threads(old_threads)
