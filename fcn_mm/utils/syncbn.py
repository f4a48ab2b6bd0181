"""SyncBN -> BN in configs, where SyncBN cannot run (one process, or no CUDA).

:func:`maybe_convert_syncbn` is the one place that makes this change and warns about it;
the train / test set-up, ``init_model`` and the offline model build (benchmark, FLOPs)
call it.
"""
import warnings
from typing import Any, List, Mapping

from .device import syncbn_supported

__all__ = ['SYNCBN_TYPES', 'convert_syncbn_cfg', 'maybe_convert_syncbn']

SYNCBN_TYPES = ('SyncBN', 'MMSyncBN', 'TorchSyncBN', 'SyncBatchNorm')


def _child_path(path: str, key: Any) -> str:
    return f'{path}.{key}' if path else str(key)


def convert_syncbn_cfg(cfg: Any, path: str = '') -> List[str]:
    """Replace every SyncBN ``type`` in ``cfg`` (dicts and lists, recursively) by ``BN``.

    Args:
        cfg (Config | dict | list): changed in place.
        path (str): the config path of ``cfg`` itself, used in the returned paths
            (e.g. ``'model'`` when ``cfg`` is ``config.model``). Defaults to the root.

    Returns:
        list[str]: the config path of every changed ``type``, e.g.
        ``'model.auxiliary_head[0].norm_cfg.type'``.
    """
    changed = []
    if isinstance(cfg, Mapping):
        if cfg.get('type') in SYNCBN_TYPES:
            cfg['type'] = 'BN'
            changed.append(_child_path(path, 'type'))
        for key, value in cfg.items():
            changed += convert_syncbn_cfg(value, _child_path(path, key))
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            changed += convert_syncbn_cfg(value, f'{path}[{i}]')
    return changed


def maybe_convert_syncbn(cfg: Any, path: str = '') -> int:
    """Turn SyncBN into BN, with a warning, unless running distributed on CUDA.

    Call it after the process group is set up. Also drops a ``sync_bn`` key of ``cfg``
    (which would make the Runner convert BN to SyncBN) where SyncBN cannot run.

    Args:
        cfg (Config | dict): a whole config, or a part of it such as ``config.model``;
            changed in place.
        path (str): the config path of ``cfg`` (``'model'`` for ``config.model``), used
            in the warning. Defaults to the root.

    Returns:
        int: how many settings were changed (SyncBN types, plus ``sync_bn``).
    """
    if syncbn_supported():
        return 0
    changed = convert_syncbn_cfg(cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg, path)
    if cfg.get('sync_bn') is not None:
        cfg.pop('sync_bn')
        changed.append(f'{_child_path(path, "sync_bn")} (dropped)')
    if changed:
        warnings.warn(f'SyncBN needs CUDA and more than one process; converted '
                      f'{len(changed)} SyncBN setting(s) in the config to BN: '
                      f'{", ".join(changed)}')
    return len(changed)
