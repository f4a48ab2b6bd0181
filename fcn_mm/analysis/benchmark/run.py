"""Run the benchmark: each mode in its own process, then the matmul peak, then ratios.

:func:`run_benchmark` is what ``tools/analysis_tools/benchmark.py`` calls. Each mode
(``infer``, ``train``) runs in a fresh ``python -m fcn_mm.analysis.benchmark.worker``
process (so its peak RSS is its own); the dense matmul peak of every compute dtype
seen is measured afterwards in this process with the same thread count, and each
mode's GFLOP/s is given as a fraction of it.
"""
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Optional, Sequence

import torch

from fcn_mm.utils.bf16_probe import cpu_model_name
from fcn_mm.utils.device import amp_policy, cpu_bf16_decision, cpu_supports_bf16, default_device
from .measure import MODES, run_mode
from .peak import DEFAULT_PEAK_SIZES, matmul_peak

__all__ = ['run_benchmark', 'run_isolated', 'add_rates', 'machine_info', 'amp_choice',
           'add_cpu_limits', 'LIMIT_DTYPES']

LIMIT_DTYPES = ('float32', 'bfloat16')  # the CPU limits every report shows

# environment variables that change CPU speed; recorded with every run
_ENV_KEYS = ('OMP_NUM_THREADS', 'OMP_WAIT_POLICY', 'GOMP_SPINCOUNT', 'KMP_BLOCKTIME',
             'MKL_NUM_THREADS', 'ONEDNN_MAX_CPU_ISA', 'DNNL_MAX_CPU_ISA', 'CUDA_VISIBLE_DEVICES')


def run_isolated(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Run one mode in a child process (stderr and stdout pass through)."""
    with tempfile.TemporaryDirectory(prefix='fcn_mm_bench_') as tmp:
        spec_path, out_path = os.path.join(tmp, 'spec.json'), os.path.join(tmp, 'out.json')
        with open(spec_path, 'w', encoding='utf-8') as f:
            json.dump(spec, f)
        cmd = [sys.executable, '-m', 'fcn_mm.analysis.benchmark.worker', spec_path, out_path]
        proc = subprocess.run(cmd, check=False)
        if proc.returncode != 0 or not os.path.isfile(out_path):
            raise RuntimeError(f"benchmark mode {spec['mode']!r} failed in its subprocess "
                               f'(exit code {proc.returncode}); its error is printed above')
        with open(out_path, encoding='utf-8') as f:
            return json.load(f)


def amp_choice(device: str, threads: int) -> Dict[str, Dict[str, Any]]:
    """What ``--amp`` would run here, for training and for inference.

    fp16 on CUDA; on a CPU :func:`fcn_mm.utils.device.cpu_bf16_decision` (the bf16
    probe, cached) at ``threads`` threads.

    Returns:
        dict: ``train`` and ``infer``, each ``dtype``, ``ratio`` (the probe's bf16
        speed-up, None where not measured) and ``reason``.
    """
    policy = amp_policy(device)
    if policy.device_type != 'cpu':
        dtype = str(policy.dtype).replace('torch.', '')
        return {mode: dict(dtype=dtype, ratio=None, reason=f'{dtype} autocast on CUDA')
                for mode in MODES}
    old = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        choice = {}
        for mode in MODES:
            hint = ("optim_wrapper.dtype='bfloat16'" if mode == 'train'
                    else "speed.amp_dtype='bfloat16'")
            decision = cpu_bf16_decision(training=mode == 'train', force_hint=hint)
            choice[mode] = dict(dtype='bfloat16' if decision.use_bf16 else 'float32',
                                ratio=decision.ratio, reason=decision.reason)
        return choice
    finally:
        torch.set_num_threads(old)


def add_cpu_limits(report: Dict[str, Any], device: str, peak_sizes: Sequence[int],
                   threads: int) -> None:
    """Measure the float32 and bf16 limits on a CPU (both, whatever the run used)."""
    if not peak_sizes or torch.device(device).type != 'cpu':
        return
    for dtype in LIMIT_DTYPES:
        if dtype not in report['peaks']:
            report['peaks'][dtype] = matmul_peak(getattr(torch, dtype), device,
                                                 sizes=peak_sizes, threads=threads)


def machine_info(device: str, threads: int) -> Dict[str, Any]:
    """Versions, CPU, thread count, load average and speed-related env vars."""
    info = dict(torch=torch.__version__, python=platform.python_version(),
                cpu=cpu_model_name(), cpu_count=os.cpu_count(), cpu_bf16=cpu_supports_bf16(),
                device=device, threads=threads, load_avg=list(os.getloadavg()),
                time=time.strftime('%Y-%m-%d %H:%M:%S'),
                env={k: os.environ[k] for k in _ENV_KEYS if k in os.environ},
                amp_choice=amp_choice(device, threads))
    if torch.device(device).type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(torch.device(device))
    return info


def add_rates(result: Dict[str, Any], peak: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Add throughput, GFLOP/s and fractions of ``peak`` to one mode's result, in place.

    ``gflops_per_s`` uses the median wall time; ``gflops_per_s_cpu`` the median CPU
    time divided by the thread count (what the run would take on idle cores, if
    the threads did not wait on each other). ``fraction_of_peak`` compares with
    ``peak['best']``, ``fraction_of_mm_peak`` with ``torch.mm``'s peak alone.
    """
    flops, median = result['flops'], result['median_s']
    result['imgs_per_s'] = result['batch'] / median
    result['gflops_per_step'] = flops / 1e9
    result['gflops_per_s'] = flops / median / 1e9
    cpu_wall = result['cpu_median_s'] / max(result['threads'], 1)
    result['gflops_per_s_cpu'] = flops / max(cpu_wall, 1e-9) / 1e9
    if peak:
        result['peak_dtype'] = peak['dtype']
        result['fraction_of_peak'] = result['gflops_per_s'] / peak['best']
        result['fraction_of_mm_peak'] = result['gflops_per_s'] / peak['mm']['gflops']
        result['fraction_of_peak_cpu'] = result['gflops_per_s_cpu'] / peak['best_cpu']
    return result


def _spec(config: str, mode: str, shape, batch: int, common: dict) -> Dict[str, Any]:
    spec = dict(common, config=config, mode=mode, batch=int(batch))
    spec['shape'] = [int(s) for s in shape] if shape else None
    return spec


def run_benchmark(config: str, checkpoint: Optional[str] = None, *,
                  modes: Sequence[str] = MODES, shape: Optional[Sequence[int]] = None,
                  train_shape: Optional[Sequence[int]] = None, batch: int = 1,
                  train_batch: Optional[int] = None, warmup: int = 2, repeat: int = 5,
                  amp: Optional[bool] = None, channels_last: Optional[bool] = None,
                  compile: Optional[bool] = None, device: Optional[str] = None,
                  threads: Optional[int] = None, cfg_options: Optional[dict] = None,
                  peak_sizes: Sequence[int] = DEFAULT_PEAK_SIZES,
                  isolate: bool = True) -> Dict[str, Any]:
    """Benchmark a config's model: inference and/or one training step.

    Args:
        config (str): config file.
        checkpoint (str, optional): weights to load (timings do not depend on them).
        modes (Sequence[str]): any of 'infer', 'train'.
        shape (Sequence[int], optional): inference image (H, W); default: the
            config's crop size.
        train_shape (Sequence[int], optional): training crop (H, W); default: the
            config's crop size.
        batch (int): images per inference step. Defaults to 1.
        train_batch (int, optional): images per training step; default ``batch``.
        warmup (int): untimed steps first. Defaults to 2.
        repeat (int): timed steps. Defaults to 5.
        amp, channels_last, compile (bool, optional): speed options; None keeps the
            config's ``speed`` values (and its optim_wrapper for training AMP).
        device (str, optional): 'cpu' or 'cuda[:i]'; default: the default device.
        threads (int, optional): torch threads; default: torch's current number.
        cfg_options (dict, optional): config overrides.
        peak_sizes (Sequence[int]): matmul sizes of the peak; empty: no peak.
        isolate (bool): one subprocess per mode (True), or all in this process.

    Returns:
        dict: ``config``, ``checkpoint``, ``machine`` (:func:`machine_info`),
        ``peaks`` (dtype -> :func:`~.peak.matmul_peak`), ``results`` (mode ->
        :func:`~.measure.run_mode` result plus :func:`add_rates`).
    """
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f'modes must be a non-empty subset of {MODES}, got {list(modes)}')
    device = device or default_device()
    threads = int(threads or torch.get_num_threads())
    common = dict(checkpoint=checkpoint, cfg_options=cfg_options, warmup=int(warmup),
                  repeat=int(repeat), amp=amp, channels_last=channels_last,
                  compile=compile, device=device, threads=threads)
    report: Dict[str, Any] = dict(config=config, checkpoint=checkpoint,
                                  machine=machine_info(device, threads), peaks={},
                                  results={})
    for mode in modes:
        spec = (_spec(config, mode, shape, batch, common) if mode == 'infer' else
                _spec(config, mode, train_shape, train_batch or batch, common))
        report['results'][mode] = run_isolated(spec) if isolate else run_mode(spec)
    for result in report['results'].values():
        dtype = result['dtype']
        if peak_sizes and dtype not in report['peaks']:
            report['peaks'][dtype] = matmul_peak(getattr(torch, dtype), device,
                                                 sizes=peak_sizes, threads=threads)
        add_rates(result, report['peaks'].get(dtype))
    add_cpu_limits(report, device, peak_sizes, threads)
    report['machine']['load_avg_after'] = list(os.getloadavg())
    return report
