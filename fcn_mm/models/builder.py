"""Build a segmentor from a config offline, in one process.

The one offline build of fcn_mm (``init_model``, the benchmark and FLOP counting use it):
pretrained weights are never fetched (``pretrained`` values and ``init_cfg`` of type
``Pretrained`` are dropped, at any depth), SyncBN becomes BN where it cannot run (with a
warning, :func:`fcn_mm.utils.syncbn.maybe_convert_syncbn`), and a checkpoint, when given,
is loaded strictly through fcn_mm's safe loader (``weights_only=True``).
"""
import copy
import logging
from typing import Any, Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from torch import nn

from fcn_mm.registry import MODELS, SCOPE
from fcn_mm.utils.syncbn import maybe_convert_syncbn

__all__ = ['drop_pretrained', 'offline_model_cfg', 'build_offline_model',
           'load_model_weights']


def drop_pretrained(node: Any) -> None:
    """Remove ``pretrained`` values and ``Pretrained`` init_cfgs under ``node``, in place.

    Args:
        node (dict | list): a model config (or part of one).
    """
    if isinstance(node, dict):
        if node.get('pretrained') is not None:
            node['pretrained'] = None
        init_cfg = node.get('init_cfg')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            node['init_cfg'] = None
        elif isinstance(init_cfg, list):
            kept = [c for c in init_cfg if not (isinstance(c, dict)
                                                and c.get('type') == 'Pretrained')]
            if len(kept) != len(init_cfg):
                node['init_cfg'] = kept or None
        for key, value in node.items():
            if key != 'init_cfg':
                drop_pretrained(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            drop_pretrained(value)


def offline_model_cfg(cfg: Config) -> dict:
    """A copy of ``cfg.model`` that builds offline in one process.

    Args:
        cfg (Config): a loaded config with a ``model`` key (not modified).

    Returns:
        dict: the model config with SyncBN -> BN and no pretrained weights.

    Raises:
        KeyError: the config has no ``model``.
    """
    if cfg.get('model') is None:
        raise KeyError(f'the config {cfg.filename} has no `model` key')
    model_cfg = copy.deepcopy(cfg._cfg_dict.to_dict()['model'])
    maybe_convert_syncbn(model_cfg, 'model')
    drop_pretrained(model_cfg)
    return model_cfg


def _quiet_init_weights(model: nn.Module) -> None:
    """``model.init_weights()`` without mmengine's per-parameter INFO report."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def load_model_weights(model: nn.Module, checkpoint: str) -> Optional[dict]:
    """Load ``checkpoint`` into ``model`` (strict); return its ``dataset_meta`` if saved.

    Args:
        model (nn.Module): the built model.
        checkpoint (str): a checkpoint file (``state_dict`` or a bare state dict).

    Returns:
        dict | None: ``classes`` and ``palette`` from the checkpoint's meta (also the
        ``CLASSES``/``PALETTE`` of MMSegmentation 0.x checkpoints), or None.
    """
    ckpt = load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    dataset_meta = meta.get('dataset_meta')
    if dataset_meta is None and 'CLASSES' in meta:  # checkpoints of MMSegmentation 0.x
        dataset_meta = dict(classes=meta['CLASSES'], palette=meta.get('PALETTE'))
    return dataset_meta


def build_offline_model(cfg: Config, checkpoint: Optional[str] = None,
                        device: Union[str, torch.device] = 'cpu',
                        init_weights: bool = True) -> nn.Module:
    """Build ``cfg.model`` offline (see :func:`offline_model_cfg`) on ``device``.

    Args:
        cfg (Config): a loaded config (:func:`fcn_mm.utils.config_check.load_config`).
        checkpoint (str, optional): a checkpoint file, loaded strictly; its
            ``dataset_meta`` becomes ``model.dataset_meta`` when it has one.
        device (str | torch.device): where to build; ``'meta'`` builds without memory
            (for counting FLOPs; no weights are initialised or loaded).
        init_weights (bool): run ``model.init_weights()`` (the ``init_cfg`` of each
            module) before loading ``checkpoint``. Defaults to True.

    Returns:
        nn.Module: the model, in training mode.

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
    """
    init_default_scope(cfg.get('default_scope', SCOPE))
    model_cfg = offline_model_cfg(cfg)
    if torch.device(device).type == 'meta':
        with torch.device('meta'):
            return MODELS.build(model_cfg)
    model = MODELS.build(model_cfg)
    if init_weights and hasattr(model, 'init_weights'):
        _quiet_init_weights(model)
    if checkpoint is not None:
        dataset_meta = load_model_weights(model, checkpoint)
        if dataset_meta is not None:
            model.dataset_meta = dataset_meta
    # BaseModel.to also tells the data preprocessor where to put the batches
    return model.to(device)
