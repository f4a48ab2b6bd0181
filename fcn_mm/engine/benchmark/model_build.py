"""Build a segmentor from a config for measuring it: offline, single process.

Pretrained weights are never fetched (``pretrained`` and ``init_cfg`` of type
``Pretrained`` are dropped), SyncBN becomes BN, and a checkpoint, when given, is
loaded with ``weights_only=True`` (fcn_mm's safe loader).
"""
import copy
import logging
from typing import Any, List, Optional, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from torch import nn

from fcn_mm.registry import MODELS
from fcn_mm.utils import register_all_modules
from fcn_mm.utils.config_check import check_config, load_config
from fcn_mm.utils.safe_loading import load_checkpoint_file
from ..runner.distributed import convert_syncbn_cfg

__all__ = ['load_bench_config', 'offline_model_cfg', 'build_bench_model', 'crop_size_of']


def _drop_pretrained(node: Any, path: str, dropped: List[str]) -> None:
    """Remove ``pretrained`` values and ``Pretrained`` init_cfgs under ``node``, in place."""
    if isinstance(node, dict):
        if node.get('pretrained') is not None:
            node['pretrained'] = None
            dropped.append(f'{path}.pretrained')
        init_cfg = node.get('init_cfg')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            node['init_cfg'] = None
            dropped.append(f'{path}.init_cfg')
        elif isinstance(init_cfg, list):
            kept = [c for c in init_cfg if not (isinstance(c, dict)
                                                and c.get('type') == 'Pretrained')]
            if len(kept) != len(init_cfg):
                node['init_cfg'] = kept or None
                dropped.append(f'{path}.init_cfg')
        for key, value in node.items():
            if key != 'init_cfg':
                _drop_pretrained(value, f'{path}.{key}', dropped)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            _drop_pretrained(value, f'{path}[{i}]', dropped)


def offline_model_cfg(cfg: Config) -> dict:
    """A copy of ``cfg.model`` that builds offline in one process.

    Args:
        cfg (Config): a loaded config with a ``model`` key.

    Returns:
        dict: the model config with SyncBN -> BN and no pretrained weights.

    Raises:
        KeyError: the config has no ``model``.
    """
    if cfg.get('model') is None:
        raise KeyError(f'the config {cfg.filename} has no `model` key')
    model_cfg = copy.deepcopy(cfg._cfg_dict.to_dict()['model'])
    convert_syncbn_cfg(model_cfg)
    _drop_pretrained(model_cfg, 'model', [])
    return model_cfg


def load_bench_config(config: Union[str, Config],
                      cfg_options: Optional[dict] = None) -> Config:
    """Load (or copy) a config, apply ``--cfg-options``, and check it.

    Args:
        config (str | Config): a config file or object (not modified).
        cfg_options (dict, optional): ``key=value`` overrides.

    Returns:
        Config: the checked config (pretrained checkpoints are not looked up).
    """
    register_all_modules(init_default_scope=False)
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
        if cfg_options:
            cfg.merge_from_dict(cfg_options, allow_list_keys=True)
    else:
        cfg = load_config(config, cfg_options=cfg_options)
    init_default_scope(cfg.get('default_scope', 'fcn_mm'))
    check_config(cfg, check_checkpoints=False)
    return cfg


def _quiet_init_weights(model: nn.Module) -> None:
    """``model.init_weights()`` without mmengine's per-parameter INFO report."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def build_bench_model(cfg: Config, checkpoint: Optional[str] = None,
                      device: Union[str, torch.device] = 'cpu') -> nn.Module:
    """Build ``cfg.model`` offline (see :func:`offline_model_cfg`) on ``device``.

    Args:
        cfg (Config): a config from :func:`load_bench_config`.
        checkpoint (str, optional): a checkpoint file (``state_dict`` loaded strictly).
        device (str | torch.device): where to build; ``'meta'`` builds without memory
            (for counting FLOPs).

    Returns:
        nn.Module: the model (training mode, weights initialised unless on meta).

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
    """
    init_default_scope(cfg.get('default_scope', 'fcn_mm'))
    model_cfg = offline_model_cfg(cfg)
    if torch.device(device).type == 'meta':
        with torch.device('meta'):
            return MODELS.build(model_cfg)
    model = MODELS.build(model_cfg)
    if hasattr(model, 'init_weights'):
        _quiet_init_weights(model)
    if checkpoint is not None:
        ckpt = load_checkpoint_file(checkpoint, map_location='cpu')
        state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
        model.load_state_dict(state_dict, strict=True)
    # BaseModel.to also tells the data preprocessor where to put the batches
    return model.to(device)


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
