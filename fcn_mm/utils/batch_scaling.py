"""Training with another total batch than the recipe: LR scaling and accumulation checks.

The total batch of a step is ``processes x train_dataloader.batch_size x
optim_wrapper.accumulative_counts``. A config says which total batch its learning rate
is meant for with mmengine's key ``auto_scale_lr = dict(enable=False,
base_batch_size=16)`` (16 = 4 GPUs x 4 images for the Pascal VOC recipes).
:func:`apply_auto_scale_lr` (``tools/train.py --auto-scale-lr``, or ``enable=True`` in
the config) scales ``optim_wrapper.optimizer.lr`` by ``total / base_batch_size`` in the
config. Unlike mmengine's own scaling (``Runner.scale_lr``, processes x batch size
only), it counts the accumulation, so batch 4 x 4 accumulation on one GPU keeps the
recipe's LR; it then sets ``enable=False`` so the Runner does not scale again.
"""
import logging
from typing import Any, List, Mapping, Optional, Tuple

from mmengine.logging import print_log

__all__ = ['total_batch_size', 'apply_auto_scale_lr', 'accumulation_mismatches',
           'check_accumulation']


def _optim_wrappers(cfg: Mapping) -> List[Tuple[str, Any]]:
    """``(key, optim_wrapper dict)``: the one wrapper, or each of a wrapper dict."""
    wrapper = cfg.get('optim_wrapper')
    if not isinstance(wrapper, Mapping):
        return []
    if 'optimizer' in wrapper or 'type' in wrapper:
        return [('optim_wrapper', wrapper)]
    return [(f'optim_wrapper.{name}', sub) for name, sub in wrapper.items()
            if isinstance(sub, Mapping)]


def total_batch_size(cfg: Mapping, world_size: int) -> Tuple[int, str]:
    """The images per optimizer step, and how they add up.

    Args:
        cfg (Config | dict): the config (``train_dataloader.batch_size``,
            ``optim_wrapper.accumulative_counts``).
        world_size (int): the number of training processes.

    Returns:
        tuple[int, str]: e.g. ``(16, '1 process x batch 4 x 4 accumulated iterations')``.

    Raises:
        KeyError: the config has no ``train_dataloader.batch_size``.
    """
    loader = cfg.get('train_dataloader') or {}
    if loader.get('batch_size') is None:
        raise KeyError('auto_scale_lr needs train_dataloader.batch_size in the config')
    batch = int(loader['batch_size'])
    wrappers = _optim_wrappers(cfg)
    counts = int(wrappers[0][1].get('accumulative_counts', 1)) if wrappers else 1
    processes = f'{world_size} process{"es" if world_size != 1 else ""}'
    how = f'{processes} x batch {batch}'
    if counts > 1:
        how += f' x {counts} accumulated iterations'
    return world_size * batch * counts, how


def apply_auto_scale_lr(cfg: Any, world_size: int, enable: bool = False) -> Optional[float]:
    """Scale the learning rate by ``total batch / auto_scale_lr.base_batch_size``.

    Args:
        cfg (Config): changed in place: every ``optim_wrapper...optimizer.lr``, and
            ``auto_scale_lr.enable`` set to False (the scaling is done).
        world_size (int): the number of training processes.
        enable (bool): ``--auto-scale-lr``: scale even if the config's
            ``auto_scale_lr.enable`` is False. Defaults to False.

    Returns:
        float | None: the factor applied, or None when scaling is off.

    Raises:
        KeyError: scaling is asked for but ``auto_scale_lr.base_batch_size``, the
            batch size or an optimizer ``lr`` is missing.
    """
    settings = cfg.get('auto_scale_lr')
    if not (enable or (settings and settings.get('enable', False))):
        return None
    where = getattr(cfg, 'filename', None) or 'the config'
    if not settings or settings.get('base_batch_size') is None:
        raise KeyError(f'--auto-scale-lr needs auto_scale_lr = dict(enable=False, '
                       f'base_batch_size=N) in {where}: N is the total batch size its '
                       'learning rate is meant for (16 for the Pascal VOC configs)')
    base = settings['base_batch_size']
    total, how = total_batch_size(cfg, world_size)
    ratio = total / float(base)
    changes = []
    for key, wrapper in _optim_wrappers(cfg):
        optimizer = wrapper.get('optimizer') or {}
        if optimizer.get('lr') is None:
            raise KeyError(f'--auto-scale-lr: {key}.optimizer has no lr to scale')
        old = optimizer['lr']
        optimizer['lr'] = old * ratio
        changes.append(f'{key}.optimizer.lr {old:g} -> {optimizer["lr"]:g}')
    settings['enable'] = False  # done here; the Runner must not scale again
    print_log(f'auto_scale_lr: total batch {total} ({how}) for a learning rate meant for '
              f'{base}: x{ratio:g}, {"; ".join(changes)}', logger='current')
    return ratio


def accumulation_mismatches(cfg: Mapping) -> List[str]:
    """Messages for accumulation settings that break an exact resume (empty if none).

    A checkpoint in the middle of an accumulation window does not hold the gradients
    accumulated so far, so a run resumed from it differs from an uninterrupted one.

    Args:
        cfg (Config | dict): the merged config.

    Returns:
        list[str]: one message per problem, naming the keys to change.
    """
    messages = []
    hook = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    interval = hook.get('interval') if isinstance(hook, Mapping) else None
    for key, wrapper in _optim_wrappers(cfg):
        counts = int(wrapper.get('accumulative_counts', 1))
        if counts > 1 and isinstance(interval, int) and interval > 0 \
                and interval % counts != 0:
            messages.append(
                f'default_hooks.checkpoint.interval={interval} is not a multiple of '
                f'{key}.accumulative_counts={counts}: checkpoints fall inside an '
                'accumulation window, whose gradients they do not hold, so resuming '
                'from one is not exact. Make the interval a multiple of '
                f'{counts}.')
    return messages


def check_accumulation(cfg: Mapping) -> List[str]:
    """Log each :func:`accumulation_mismatches` message as a warning; return them."""
    messages = accumulation_mismatches(cfg)
    for message in messages:
        print_log(message, logger='current', level=logging.WARNING)
    return messages
