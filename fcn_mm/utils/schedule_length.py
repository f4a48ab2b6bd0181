"""Keep the parameter schedule and the training length in step.

Binding: a scheduler with ``end=None`` ends with training. The train set-up
(:func:`fcn_mm.apis.training.setup_train_config`, i.e. ``tools/train.py``) replaces it
by ``train_cfg.max_iters`` (``by_epoch=False``) or ``train_cfg.max_epochs``
(``by_epoch=True``) after ``--cfg-options``, so one override moves both::

    param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
                            end=None, by_epoch=False)]   # ends at train_cfg.max_iters
    # python tools/train.py CONFIG --cfg-options train_cfg.max_iters=300  -> end=300

Checking: :func:`schedule_length_mismatches` lists, with both values and the key to
change, every schedule that ends before or after training: the furthest ``end``, a
``T_max`` (cosine schedules) or ``total_steps`` (one-cycle) that do not fit
``end - begin``.
"""
import logging
from typing import Any, List, Mapping, Optional, Tuple

from mmengine.logging import print_log

__all__ = ['bind_schedule_to_train_length', 'schedule_length_mismatches',
           'check_schedule_length']

# mmengine's "no end" (mmengine.optim.scheduler.param_scheduler.INF)
_NO_END = int(1e9)
# schedule-length keys that must equal ``end - begin`` when given
_LENGTH_KEYS = ('T_max', 'total_steps')


def _schedulers(cfg: Mapping) -> List[Tuple[str, Any]]:
    """``(config key, scheduler dict)`` pairs of ``cfg.param_scheduler``."""
    schedulers = cfg.get('param_scheduler')
    if isinstance(schedulers, Mapping):
        if 'type' in schedulers:
            return [('param_scheduler', schedulers)]
        return [(f'param_scheduler.{name}[{i}]', s)  # one list per optimizer
                for name, group in schedulers.items()
                for i, s in enumerate(group if isinstance(group, list) else [group])
                if isinstance(s, Mapping)]
    if isinstance(schedulers, (list, tuple)):
        return [(f'param_scheduler[{i}]', s) for i, s in enumerate(schedulers)
                if isinstance(s, Mapping)]
    return []


def _train_length(cfg: Mapping, by_epoch: bool) -> Tuple[str, Optional[int]]:
    """``('train_cfg.max_iters', value)`` or the epochs, for the scheduler's unit."""
    key = 'max_epochs' if by_epoch else 'max_iters'
    train_cfg = cfg.get('train_cfg') or {}
    return f'train_cfg.{key}', train_cfg.get(key)


def bind_schedule_to_train_length(cfg: Any) -> List[str]:
    """Replace every scheduler ``end=None`` by the training length.

    A scheduler with ``end=None`` that begins at or after the end of training (a decay
    after a warm-up, in a run shortened below the warm-up) would never act: it is left
    out of the run, with a log line, instead of failing with ``end <= begin``.

    Args:
        cfg (Config | dict): the run's config, changed in place.

    Returns:
        list[str]: the filled keys, e.g. ``['param_scheduler[0].end']``.

    Raises:
        ValueError: ``end=None`` but the config has no ``train_cfg.max_iters``
            (``max_epochs`` for ``by_epoch=True``) to take it from.
    """
    filled, never_runs = [], []
    for key, scheduler in _schedulers(cfg):
        if 'end' not in scheduler or scheduler['end'] is not None:
            continue
        length_key, length = _train_length(cfg, scheduler.get('by_epoch', True))
        if length is None:
            raise ValueError(f'{key}.end=None means "end with training", but the config '
                             f'sets no {length_key}; set {length_key} or give {key}.end '
                             'a number')
        if scheduler.get('begin', 0) >= int(length):
            print_log(f"{key} ({scheduler.get('type')}) begins at {scheduler.get('begin')}, "
                      f'where training already ends ({length_key}={length}): it is left '
                      'out of this run', logger='current', level=logging.INFO)
            never_runs.append(scheduler)
            continue
        scheduler['end'] = int(length)
        filled.append(f'{key}.end')
    if never_runs:
        _drop_schedulers(cfg, never_runs)
    return filled


def _drop_schedulers(cfg: Any, dropped: List[Any]) -> None:
    """Remove the scheduler dicts ``dropped`` (by identity) from ``cfg.param_scheduler``."""
    def kept(group):
        return [s for s in group if not any(s is d for d in dropped)]

    schedulers = cfg['param_scheduler']
    if isinstance(schedulers, Mapping) and 'type' in schedulers:
        cfg['param_scheduler'] = []
    elif isinstance(schedulers, Mapping):
        for name, group in schedulers.items():
            schedulers[name] = kept(group if isinstance(group, list) else [group])
    else:
        cfg['param_scheduler'] = kept(schedulers)


def _fmt(value: Any) -> str:
    return f'{value:g}' if isinstance(value, float) else str(value)


def schedule_length_mismatches(cfg: Mapping) -> List[str]:
    """Messages for schedules that do not end with training (empty when all fit).

    Only schedulers in the training's unit are compared (``by_epoch=False`` with
    ``train_cfg.max_iters``, ``by_epoch=True`` with ``train_cfg.max_epochs``); an
    ``end`` that is left out or None (bound to the training length) always fits.

    Args:
        cfg (Config | dict): the merged config.

    Returns:
        list[str]: one message per mismatch, naming both values and the key to change.
    """
    messages, furthest = [], {}
    for key, scheduler in _schedulers(cfg):
        by_epoch = bool(scheduler.get('by_epoch', True))
        length_key, length = _train_length(cfg, by_epoch)
        end = scheduler.get('end')
        if length is None or end is None or end >= _NO_END:
            continue
        begin = scheduler.get('begin', 0)
        name = scheduler.get('type', 'scheduler')
        for length_name in _LENGTH_KEYS:
            span = scheduler.get(length_name)
            if span is not None and span != end - begin:
                messages.append(
                    f'{key} ({name}): {key}.{length_name}={_fmt(span)} but its '
                    f'end - begin is {end - begin} ({key}.end={end}, begin={begin}); the '
                    f'schedule does not fit its own range. Set {key}.{length_name}=None '
                    f'(or leave it out) to use end - begin.')
        if length_key not in furthest or end > furthest[length_key][0]:
            furthest[length_key] = (end, key, name, length)
    for length_key, (end, key, name, length) in furthest.items():
        if end == length:
            continue
        unit = 'epoch' if 'epochs' in length_key else 'iteration'
        effect = ('the schedule is cut off before it reaches its final value'
                  if end > length else
                  f'from {unit} {end} on, the value stays at its final one')
        messages.append(
            f'{key} ({name}) ends at {unit} {end} ({key}.end) but training runs '
            f'{length_key}={length}: {effect}. Set {key}.end={length}, or end=None to '
            f'follow {length_key} (see docs/config.md, "Schedules that follow the '
            'training length").')
    return messages


def check_schedule_length(cfg: Mapping) -> List[str]:
    """Log each :func:`schedule_length_mismatches` message as a warning.

    Args:
        cfg (Config | dict): the merged config.

    Returns:
        list[str]: the messages logged.
    """
    messages = schedule_length_mismatches(cfg)
    for message in messages:
        print_log(message, logger='current', level=logging.WARNING)
    return messages
