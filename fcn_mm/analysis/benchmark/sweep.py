"""Cost as the work grows: inference at several image sizes (whole and slide) and training
steps at several batch sizes, in one run (``benchmark.py --sweep``).

Every point is one :func:`~.measure.run_mode` spec, run in its own process like the
plain benchmark's modes (so each peak memory is that point's own); the settings shared
by all points (speed options, device, threads, warm-up and repeats) are one ``common``
dict, so an option that :func:`~.measure.run_mode` learns later reaches every point.
From the timings it derives the figures that compare sizes: seconds per image and per
megapixel, and for slide mode the windows' overlap factor and the overhead of slide
inference over whole-image inference of the same pixels.
"""
import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from fcn_mm.models.segmentors.encoder_decoder import DEFAULT_WINDOWS_PER_FORWARD, slide_windows
from fcn_mm.utils.config_check import load_config
from fcn_mm.utils.device import default_device
from .measure import crop_size_of, run_mode
from .peak import DEFAULT_PEAK_SIZES, matmul_peak
from .run import add_cpu_limits, add_rates, machine_info, run_isolated

__all__ = ['DEFAULT_SWEEP_SHAPES', 'DEFAULT_SWEEP_TRAIN_BATCHES', 'parse_shape',
           'slide_test_cfg', 'overlap_factor', 'sweep_points', 'run_sweep']

DEFAULT_SWEEP_SHAPES = ((256, 256), (480, 480), (512, 1024), (1024, 2048))
DEFAULT_SWEEP_TRAIN_BATCHES = (1, 2, 4)


def parse_shape(text: str) -> Tuple[int, int]:
    """``'512x1024'`` -> ``(512, 1024)``.

    Raises:
        ValueError: the text is not ``HxW`` with positive integers.
    """
    parts = str(text).lower().split('x')
    try:
        height, width = (int(p) for p in parts)
    except ValueError:
        height = width = 0
    if len(parts) != 2 or height < 1 or width < 1:
        raise ValueError(f'a sweep shape must be HxW with positive integers, e.g. 480x480; '
                         f'got {text!r}')
    return height, width


def slide_test_cfg(cfg, crop: Optional[Sequence[int]] = None,
                   stride: Optional[Sequence[int]] = None,
                   windows_per_forward: Optional[int] = None) -> Dict[str, Any]:
    """The ``model.test_cfg`` of the sweep's slide points.

    The config's own window settings when its ``test_cfg`` is a slide one; otherwise
    windows of the training crop every two thirds of a crop (MMSegmentation's
    Cityscapes ratio, 512 / 341), and the model's default number of windows per
    forward. ``crop``, ``stride`` and ``windows_per_forward`` override.

    Args:
        cfg (Config): the loaded config.
        crop (Sequence[int], optional): window (h, w).
        stride (Sequence[int], optional): step (h, w).
        windows_per_forward (int, optional): windows per network forward.

    Returns:
        dict: ``mode='slide'``, ``crop_size``, ``stride`` and ``windows_per_forward``
        (None: all windows in one forward).
    """
    own = dict((cfg.model.get('test_cfg') or {}))
    if own.get('mode') != 'slide':
        own = {}
    crop = [int(c) for c in (crop or own.get('crop_size') or crop_size_of(cfg))]
    stride = [int(s) for s in (stride or own.get('stride')
                               or [max(1, math.ceil(c * 2 / 3)) for c in crop])]
    per_forward = windows_per_forward or own.get('windows_per_forward',
                                                 DEFAULT_WINDOWS_PER_FORWARD)
    return dict(mode='slide', crop_size=crop, stride=stride,
                windows_per_forward=None if per_forward is None else int(per_forward))


def overlap_factor(shape: Sequence[int], test_cfg: Dict[str, Any]) -> Tuple[int, float]:
    """(number of windows, window pixels / image pixels) of slide inference on ``shape``.

    An image smaller than the crop is padded to it first, so a 256x256 image under a
    480x480 window has an overlap factor of 3.5: the network sees 3.5x its pixels.
    """
    height, width = int(shape[0]), int(shape[1])
    crop, stride = test_cfg['crop_size'], test_cfg['stride']
    full_h, full_w = max(height, crop[0]), max(width, crop[1])
    windows = slide_windows(full_h, full_w, crop, stride)
    pixels = sum((y2 - y1) * (x2 - x1) for y1, y2, x1, x2 in windows)
    return len(windows), pixels / (height * width)


def sweep_points(cfg, shapes: Sequence[Sequence[int]] = DEFAULT_SWEEP_SHAPES,
                 train_batches: Sequence[int] = DEFAULT_SWEEP_TRAIN_BATCHES,
                 train_shape: Optional[Sequence[int]] = None,
                 slide_cfg: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """The points of a sweep: (label, kind, spec overrides) without the shared settings.

    Args:
        cfg (Config): the loaded config.
        shapes (Sequence): inference image sizes (H, W), each whole and slide.
        train_batches (Sequence[int]): batch sizes of the training steps.
        train_shape (Sequence[int], optional): training crop; the config's by default.
        slide_cfg (dict, optional): the slide ``test_cfg`` (:func:`slide_test_cfg`).

    Returns:
        list[dict]: ``kind`` ('whole' | 'slide' | 'train'), ``spec`` (mode, shape,
        batch, test_cfg overrides) and, for slide points, ``windows`` and ``overlap``.
    """
    slide_cfg = slide_cfg or slide_test_cfg(cfg)
    points = []
    for shape in shapes:
        shape = [int(shape[0]), int(shape[1])]
        points.append(dict(kind='whole', spec=dict(
            mode='infer', shape=shape, batch=1, test_cfg=dict(mode='whole'))))
        windows, overlap = overlap_factor(shape, slide_cfg)
        points.append(dict(kind='slide', windows=windows, overlap=overlap, spec=dict(
            mode='infer', shape=shape, batch=1, test_cfg=dict(slide_cfg))))
    train_shape = [int(s) for s in (train_shape or crop_size_of(cfg))]
    for batch in train_batches:
        points.append(dict(kind='train', spec=dict(mode='train', shape=train_shape,
                                                   batch=int(batch))))
    return points


def _point_spec(config: str, point: Dict[str, Any], common: Dict[str, Any]) -> Dict[str, Any]:
    """A full :func:`run_mode` spec: the shared settings, the point's mode, its test_cfg."""
    spec = dict(common, config=config, mode=point['spec']['mode'],
                shape=point['spec']['shape'], batch=point['spec']['batch'])
    options = dict(common.get('cfg_options') or {})
    if 'test_cfg' in point['spec']:
        for key, value in point['spec']['test_cfg'].items():
            options[f'model.test_cfg.{key}'] = value
    spec['cfg_options'] = options or None
    return spec


def _derive(point: Dict[str, Any], result: Dict[str, Any],
            whole_by_shape: Dict[Tuple[int, int], float]) -> Dict[str, Any]:
    """Add the per-image, per-megapixel and slide-overhead figures to one result."""
    height, width = result['shape']
    megapixels = result['batch'] * height * width / 1e6
    row = dict(result, kind=point['kind'], megapixels=megapixels,
               s_per_image=result['median_s'] / result['batch'],
               s_per_megapixel=result['median_s'] / megapixels,
               step_mem_mb=result['peak_mem_mb'] - result.get('mem_before_mb', 0.0))
    if point['kind'] == 'slide':
        row.update(windows=point['windows'], overlap=point['overlap'])
        whole = whole_by_shape.get((height, width))
        if whole:
            # slide time over (whole-image time of these pixels x the windows' overlap)
            row['slide_overhead'] = result['median_s'] / (whole * point['overlap'])
    return row


def run_sweep(config: str, checkpoint: Optional[str] = None, *,
              shapes: Sequence[Sequence[int]] = DEFAULT_SWEEP_SHAPES,
              train_batches: Sequence[int] = DEFAULT_SWEEP_TRAIN_BATCHES,
              train_shape: Optional[Sequence[int]] = None,
              slide_crop: Optional[Sequence[int]] = None,
              slide_stride: Optional[Sequence[int]] = None,
              windows_per_forward: Optional[int] = None, warmup: int = 1, repeat: int = 3,
              amp: Optional[bool] = None, channels_last: Optional[bool] = None,
              compile: Optional[bool] = None, device: Optional[str] = None,
              threads: Optional[int] = None, cfg_options: Optional[dict] = None,
              peak_sizes: Sequence[int] = DEFAULT_PEAK_SIZES,
              isolate: bool = True) -> Dict[str, Any]:
    """Inference (whole and slide) over ``shapes`` and training steps over ``train_batches``.

    Args:
        config (str): config file.
        checkpoint (str, optional): weights to load (timings do not depend on them).
        shapes (Sequence): inference image sizes (H, W). Defaults to 256x256,
            480x480, 512x1024 and 1024x2048.
        train_batches (Sequence[int]): training batch sizes. Defaults to 1, 2, 4.
        train_shape (Sequence[int], optional): training crop; the config's by default.
        slide_crop, slide_stride (Sequence[int], optional): slide windows; see
            :func:`slide_test_cfg`.
        windows_per_forward (int, optional): slide windows per forward.
        warmup (int): untimed steps per point (after the FLOP count). Defaults to 1.
        repeat (int): timed steps per point. Defaults to 3.
        amp, channels_last, compile (bool, optional): speed options (None: the config's).
        device (str, optional): 'cpu' or 'cuda[:i]'.
        threads (int, optional): torch threads.
        cfg_options (dict, optional): config overrides for every point.
        peak_sizes (Sequence[int]): matmul sizes of the peak; empty: no peak.
        isolate (bool): one subprocess per point (True), or all in this process.

    Returns:
        dict: ``config``, ``checkpoint``, ``machine``, ``peaks``, ``slide_test_cfg`` and
        ``rows``: one dict per point, the :func:`~.measure.run_mode` result with
        :func:`~.run.add_rates` plus ``kind``, ``megapixels`` (per step),
        ``s_per_image``, ``s_per_megapixel``, ``step_mem_mb`` (peak memory minus the
        memory before the first step), and for slide rows ``windows``, ``overlap``
        and ``slide_overhead``.
    """
    if not shapes and not train_batches:
        raise ValueError('the sweep needs at least one inference shape or training batch')
    cfg = load_config(config, cfg_options)
    slide_cfg = slide_test_cfg(cfg, slide_crop, slide_stride, windows_per_forward)
    device = device or default_device()
    threads = int(threads or torch.get_num_threads())
    common = dict(checkpoint=checkpoint, cfg_options=cfg_options, warmup=int(warmup),
                  repeat=int(repeat), amp=amp, channels_last=channels_last,
                  compile=compile, device=device, threads=threads)
    report: Dict[str, Any] = dict(config=config, checkpoint=checkpoint,
                                  machine=machine_info(device, threads), peaks={},
                                  slide_test_cfg=slide_cfg, rows=[])
    points = sweep_points(cfg, shapes, train_batches, train_shape, slide_cfg)
    results = []
    for point in points:
        spec = _point_spec(config, point, common)
        results.append(run_isolated(spec) if isolate else run_mode(spec))
    for result in results:
        dtype = result['dtype']
        if peak_sizes and dtype not in report['peaks']:
            report['peaks'][dtype] = matmul_peak(getattr(torch, dtype), device,
                                                 sizes=peak_sizes, threads=threads)
        add_rates(result, report['peaks'].get(dtype))
    whole_by_shape = {tuple(r['shape']): r['median_s'] for p, r in zip(points, results)
                      if p['kind'] == 'whole'}
    report['rows'] = [_derive(p, r, whole_by_shape) for p, r in zip(points, results)]
    add_cpu_limits(report, device, peak_sizes, threads)
    report['machine']['load_avg_after'] = list(os.getloadavg())
    return report
