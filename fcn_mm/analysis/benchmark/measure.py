"""Measure one mode (inference or one training step) of a config's model, in-process.

:func:`run_mode` builds the model, applies the speed options, counts the FLOPs of
exactly the measured step once (eager, before any compilation), then times
``warmup`` + ``repeat`` steps and reads the peak memory. :mod:`.run` calls it in a
fresh subprocess per mode, so that ``ru_maxrss`` belongs to that mode alone.

* ``infer``: ``model.test_step(batch)`` under ``torch.no_grad()`` (and the inference
  autocast with ``amp``): data preprocessing, whole-image forward, resize of the
  logits to the image size and argmax, as ``tools/test.py`` runs it.
* ``train``: ``model.train_step(batch, optim_wrapper)``: preprocessing, forward with
  the decode and auxiliary heads' losses, backward and the optimizer step of the
  config's ``optim_wrapper`` (``AmpOptimWrapper`` with ``amp``, as ``train.py --amp``).
"""
import copy
import os
import resource
import statistics
import time
from typing import Any, Callable, Dict, Tuple

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from fcn_mm.engine.optim_wrappers import enable_amp
from fcn_mm.models.builder import build_offline_model
from fcn_mm.utils.config_check import check_config, load_config
from fcn_mm.utils.device import default_device
from fcn_mm.utils.speed_options import (apply_speed_options, autocast_dtype,
                                        inference_autocast, speed_options_from_cfg)
from ..flops import count_flops
from .synthetic import synthetic_batch

__all__ = ['MODES', 'DEFAULT_OPTIM_WRAPPER', 'time_runs', 'peak_memory_mb', 'crop_size_of',
           'run_mode']

MODES = ('infer', 'train')
DEFAULT_OPTIM_WRAPPER = dict(type='OptimWrapper', optimizer=dict(
    type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005))


def crop_size_of(cfg: Config, default: Tuple[int, int] = (512, 512)) -> Tuple[int, int]:
    """The training crop (H, W): ``crop_size``, else ``model.data_preprocessor.size``.

    Args:
        cfg (Config): the config.
        default (tuple[int, int]): used when the config names no crop.

    Returns:
        tuple[int, int]: (H, W).
    """
    size = cfg.get('crop_size', None)
    if size is None:
        size = (cfg.model.get('data_preprocessor') or {}).get('size', None)
    if size is None:
        return tuple(default)
    return int(size[0]), int(size[1])


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_runs(step: Callable[[], Any], warmup: int, repeat: int,
              device: torch.device) -> Dict[str, Any]:
    """Run ``step`` ``warmup`` times untimed, then ``repeat`` times timed.

    Returns:
        dict: ``times_s`` and ``cpu_times_s`` (process CPU time, all threads) per
        run, and ``median_s``, ``min_s``, ``max_s``, ``cpu_median_s``.
    """
    if repeat < 1 or warmup < 0:
        raise ValueError(f'repeat must be >= 1 and warmup >= 0, got {repeat} and {warmup}')
    for _ in range(warmup):
        step()
    _sync(device)
    times, cpu_times = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        _sync(device)
        times.append(time.perf_counter() - wall)
        cpu_times.append(time.process_time() - cpu)
    return dict(times_s=times, cpu_times_s=cpu_times, median_s=statistics.median(times),
                min_s=min(times), max_s=max(times),
                cpu_median_s=statistics.median(cpu_times))


def peak_memory_mb(device: torch.device) -> Dict[str, Any]:
    """Peak memory of this process so far: ``ru_maxrss`` (CPU) or CUDA's allocator peak."""
    if device.type == 'cuda':
        return dict(peak_mem_mb=torch.cuda.max_memory_allocated(device) / 2 ** 20,
                    mem_kind='cuda max_memory_allocated')
    # Linux reports ru_maxrss in KiB
    return dict(peak_mem_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                mem_kind='ru_maxrss')


def _num_classes(model: torch.nn.Module) -> int:
    head = getattr(model, 'decode_head', None)
    return int(getattr(head, 'num_classes', 21))


def _infer_step(model, spec: dict, opts, device: torch.device):
    """(step callable, compute dtype) of whole-image inference."""
    model.eval()
    batch = synthetic_batch(spec['batch'], spec['shape'], _num_classes(model),
                            seed=spec.get('seed', 0))

    def step():
        with torch.no_grad(), inference_autocast(str(device), opts.amp, opts.amp_dtype):
            return model.test_step(batch)

    return step, autocast_dtype(str(device), opts.amp, opts.amp_dtype)


def _train_step(model, cfg: Config, spec: dict, opts, device: torch.device):
    """(step callable, compute dtype) of one optimisation step."""
    run_cfg = Config(dict(optim_wrapper=copy.deepcopy(
        cfg.get('optim_wrapper', None) or DEFAULT_OPTIM_WRAPPER)))
    if opts.amp:
        enable_amp(run_cfg)
        if opts.amp_dtype is not None:
            run_cfg.optim_wrapper.dtype = opts.amp_dtype
    if run_cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':
        run_cfg.optim_wrapper.setdefault('device', str(device))
    model.train()
    optim_wrapper = build_optim_wrapper(model, run_cfg.optim_wrapper)
    batch = synthetic_batch(spec['batch'], spec['shape'], _num_classes(model),
                            with_labels=True, seed=spec.get('seed', 0))

    def step():
        return model.train_step(batch, optim_wrapper)

    dtype = getattr(optim_wrapper, 'cast_dtype', torch.float32)
    return step, dtype


def _check_spec(spec: dict) -> None:
    if spec.get('mode') not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {spec.get('mode')!r}")
    for key in ('batch', 'repeat'):
        if int(spec.get(key, 1)) < 1:
            raise ValueError(f'{key} must be >= 1, got {spec[key]}')


def run_mode(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Measure one mode.

    Args:
        spec (dict): ``config`` (path), ``mode`` ('infer' | 'train'), and optional
            ``checkpoint``, ``cfg_options``, ``shape`` (H, W; default: the config's
            crop size), ``batch`` (1), ``warmup`` (2), ``repeat`` (5), ``amp``,
            ``amp_dtype`` ('bfloat16' forces bf16), ``channels_last``, ``compile`` (None: the config's ``speed`` value),
            ``device`` (default device), ``threads`` (torch's current), ``seed``.

    Returns:
        dict: the spec's settings, ``dtype``, ``flops`` of one step, the timings of
        :func:`time_runs`, ``peak_mem_mb`` / ``mem_kind``, ``rss_before_mb`` (the
        process's peak before the first step: interpreter, libraries, model),
        ``mem_before_mb`` (the same on CPU; on CUDA the memory allocated before the
        first step, on the scale of ``peak_mem_mb``) and
        ``load_before`` / ``load_after`` (1-minute load average).
    """
    _check_spec(spec)
    if spec.get('threads'):
        torch.set_num_threads(int(spec['threads']))
    device = torch.device(spec.get('device') or default_device())
    cfg = load_config(spec['config'], spec.get('cfg_options'))
    check_config(cfg, check_checkpoints=False)
    opts = speed_options_from_cfg(cfg, amp=spec.get('amp'),
                                  amp_dtype=spec.get('amp_dtype'),
                                  channels_last=spec.get('channels_last'),
                                  compile=spec.get('compile'))
    spec = dict(spec, batch=int(spec.get('batch', 1)),
                shape=tuple(spec.get('shape') or crop_size_of(cfg)))
    model = build_offline_model(cfg, spec.get('checkpoint'), device=device)
    apply_speed_options(model, channels_last=opts.channels_last)
    if spec['mode'] == 'infer':
        step, dtype = _infer_step(model, spec, opts, device)
    else:
        step, dtype = _train_step(model, cfg, spec, opts, device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    rss_before = peak_memory_mb(torch.device('cpu'))['peak_mem_mb']
    mem_before = (torch.cuda.memory_allocated(device) / 2 ** 20 if device.type == 'cuda'
                  else rss_before)
    load_before = os.getloadavg()[0]
    _, flops = count_flops(step)
    apply_speed_options(model, compile=opts.compile)
    timing = time_runs(step, int(spec.get('warmup', 2)), int(spec.get('repeat', 5)), device)
    result = dict(mode=spec['mode'], shape=list(spec['shape']), batch=spec['batch'],
                  device=str(device), threads=torch.get_num_threads(),
                  dtype=str(dtype).replace('torch.', ''), amp=opts.amp,
                  channels_last=opts.channels_last, compile=opts.compile,
                  warmup=int(spec.get('warmup', 2)), repeat=int(spec.get('repeat', 5)),
                  flops=flops, rss_before_mb=rss_before, mem_before_mb=mem_before,
                  load_before=load_before,
                  load_after=os.getloadavg()[0])
    result.update(timing)
    result.update(peak_memory_mb(device))
    return result
