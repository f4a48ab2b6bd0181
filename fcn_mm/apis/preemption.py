"""Preemption for ``tools/train.py``: the stop-signal hook in every run, and the exit code.

:func:`add_preemption_hook` puts :class:`~fcn_mm.engine.hooks.PreemptionHook` into
``custom_hooks`` unless the config has one (to choose other signals, or none:
``custom_hooks = [dict(type='PreemptionHook', signals=[])]``). After ``runner.train()``,
:func:`train_exit_code` is :data:`~fcn_mm.utils.stop_signals.PREEMPTED_EXIT_CODE` (75)
when a signal stopped training before its last iteration, else 0.
"""
from mmengine.config import Config
from mmengine.runner import Runner

from fcn_mm.engine.hooks import PreemptionHook
from fcn_mm.utils.stop_signals import PREEMPTED_EXIT_CODE

__all__ = ['add_preemption_hook', 'train_exit_code', 'PREEMPTED_EXIT_CODE']


def _is_preemption_hook(hook) -> bool:
    kind = hook.get('type') if isinstance(hook, dict) else type(hook)
    return kind in ('PreemptionHook', 'fcn_mm.PreemptionHook', PreemptionHook) or (
        isinstance(kind, type) and issubclass(kind, PreemptionHook))


def add_preemption_hook(cfg: Config) -> None:
    """Append ``dict(type='PreemptionHook')`` to ``cfg.custom_hooks`` if it has none.

    Args:
        cfg (Config): the training config (changed in place).
    """
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(_is_preemption_hook(h) for h in hooks):
        hooks.append(dict(type='PreemptionHook'))
    cfg.custom_hooks = hooks


def train_exit_code(runner: Runner) -> int:
    """The exit status for ``tools/train.py`` after ``runner.train()`` returned.

    Args:
        runner (Runner): the runner that trained.

    Returns:
        int: 75 if a stop signal ended training early (a checkpoint was saved; resume
        with ``--resume``), else 0.
    """
    codes = [h.exit_code for h in runner.hooks if isinstance(h, PreemptionHook)]
    return max(codes, default=0)
