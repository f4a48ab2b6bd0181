"""Pre-flight check of a config, run before anything is built.

:func:`load_config` reads a config file (a missing ``_base_`` file names the config
that asked for it) and applies ``--cfg-options``. :func:`check_config` walks the
config (model, datasets with nested datasets and pipelines, dataloaders, evaluators,
hooks, optim_wrapper, param_scheduler, loops, visualizer, log_processor, tta_model)
and resolves every ``type`` in the right fcn_mm registry. It raises

* :class:`UnknownTypeError` (a KeyError) naming the registry, the type, its config
  path (``model.auxiliary_head[1].type``) and up to three close names;
* :class:`UnknownKeywordError` (a TypeError) naming the component, the keyword and
  its config path, when a class cannot take that keyword;
* :class:`~fcn_mm.utils.config_keys.MisspeltConfigKeyError` (a KeyError) for a top-level
  key that nothing reads but is close to one that is read (``trian_cfg``);
* KeyError / FileNotFoundError from :func:`~fcn_mm.utils.pretrained.resolve_checkpoint_name`
  for ``pretrained``, ``init_cfg.checkpoint`` and ``load_from``.

The tools, the train / test set-up (:mod:`fcn_mm.apis`), ``init_model`` and the analysis
tools load configs with :func:`load_config` and call :func:`check_config`.
"""
import copy
import os
import os.path as osp
from typing import Any, Iterable, List, Optional, Tuple, Union

from mmengine.config import Config
from torch.utils.data import DataLoader

from fcn_mm import registry as R
from .cfg_options import resolve_cfg_options
from .config_bases import check_base_files
from .config_keys import check_top_level_keys
from .pretrained import resolve_checkpoint_name
from .signature_check import accepted_keywords, close_names

__all__ = ['check_config', 'load_config', 'checkpoint_names', 'UnknownTypeError',
           'UnknownKeywordError']

# Keys the Runner / builders take out of a config before calling the class.
_DATALOADER_KEYS = {'dataset', 'sampler', 'batch_sampler', 'num_batch_per_epoch',
                    'worker_init_fn', 'disable_subprocess_warning', 'collate_fn'}
_OPTIM_WRAPPER_KEYS = {'optimizer', 'paramwise_cfg', 'constructor'}
_SCHEDULER_KEYS = {'convert_to_iter_based'}
_HOOK_KEYS = {'priority'}


class UnknownTypeError(KeyError):
    """A config ``type`` that is not registered (message printed without quotes)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


class UnknownKeywordError(TypeError):
    """A config key that the component's constructor does not accept."""


def _join(path: str, key: Union[str, int]) -> str:
    if isinstance(key, int):
        return f'{path}[{key}]'
    return f'{path}.{key}' if path else str(key)


def _registry_names(registry) -> Iterable[str]:
    names, node = [], registry
    while node is not None:
        names.extend(node.module_dict)
        node = node.parent
    return names


def _lookup(registry, name: str) -> Any:
    try:
        return registry.get(name)
    except RuntimeError:  # mmengine: 'Failed to get X' when not importable either
        return None


def _resolve(registry, cfg: dict, path: str, default_type: Optional[str] = None,
             check_kwargs: bool = True, consumed: Iterable[str] = ()) -> Any:
    """Resolve ``cfg['type']`` in ``registry``; check the other keys against it."""
    type_ = cfg.get('type', default_type)
    if type_ is None:
        return None
    type_path = _join(path, 'type')
    if isinstance(type_, str):
        obj = _lookup(registry, type_)
        if obj is None:
            close = close_names(type_, _registry_names(registry))
            hint = f' Did you mean: {", ".join(repr(c) for c in close)}?' if close else ''
            var = next((k for k, v in R.ALL_REGISTRIES.items() if v is registry), '?')
            raise UnknownTypeError(
                f'{type_!r} (config key `{type_path}`) is not in the '
                f'{registry.scope}::{registry.name} registry (fcn_mm.registry.{var}).{hint}')
    elif callable(type_):
        obj = type_
    else:
        raise TypeError(f'`{type_path}` must be a registered name (str) or a class, got '
                        f'{type(type_).__name__}: {type_!r}')
    if check_kwargs:
        _check_kwargs(obj, cfg, path, set(consumed) | {'type', '_scope_'})
    return obj


def _check_kwargs(obj: Any, cfg: dict, path: str, consumed: set) -> None:
    accepted = accepted_keywords(obj)
    if accepted is None:
        return
    name = getattr(obj, '__name__', repr(obj))
    for key in cfg:
        if key in consumed or key in accepted:
            continue
        close = close_names(key, accepted)
        hint = f' Did you mean: {", ".join(repr(c) for c in close)}?' if close else ''
        where = f'`{_join(path, key)}`'
        raise UnknownKeywordError(
            f'{name} (config key `{path}`) got an unexpected keyword {key!r} '
            f'(config key {where}).{hint}')


def _walk_init(node: Any, path: str, checkpoints: list) -> None:
    if isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _walk_init(item, _join(path, i), checkpoints)
    elif isinstance(node, dict):
        _resolve(R.WEIGHT_INITIALIZERS, node, path, check_kwargs=False)
        if node.get('type') == 'Pretrained' and node.get('checkpoint'):
            checkpoints.append((node['checkpoint'], path))
        if node.get('override') is not None:
            _walk_init(node['override'], _join(path, 'override'), checkpoints)


def _walk_model(node: Any, path: str, checkpoints: list, check_kwargs: bool = True) -> None:
    """Resolve model components; collect ``(checkpoint name, cfg key)`` pairs."""
    if isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _walk_model(item, _join(path, i), checkpoints, check_kwargs)
        return
    if not isinstance(node, dict):
        return
    _resolve(R.MODELS, node, path, check_kwargs=check_kwargs)
    for key, value in node.items():
        sub = _join(path, key)
        if key == 'init_cfg':
            _walk_init(value, sub, checkpoints)
        elif key == 'sampler' and isinstance(value, dict):
            _resolve(R.TASK_UTILS, value, sub, check_kwargs=check_kwargs,
                     consumed={'context'})
        elif key == 'pretrained' and isinstance(value, str):
            checkpoints.append((value, sub))
        elif key != 'type':
            _walk_model(value, sub, checkpoints,
                        check_kwargs and not str(key).endswith('_cfg'))


def _walk_pipeline(node: Any, path: str) -> None:
    if not isinstance(node, (list, tuple)):
        return
    for i, item in enumerate(node):
        sub = _join(path, i)
        if isinstance(item, (list, tuple)):  # TestTimeAug: a list of lists
            _walk_pipeline(item, sub)
        elif isinstance(item, dict):
            _resolve(R.TRANSFORMS, item, sub)
            if 'transforms' in item:
                _walk_pipeline(item['transforms'], _join(sub, 'transforms'))


def _walk_dataset(node: Any, path: str) -> None:
    if not isinstance(node, dict):
        return
    _resolve(R.DATASETS, node, path)
    _walk_pipeline(node.get('pipeline'), _join(path, 'pipeline'))
    for i, sub in enumerate(node.get('datasets') or []):
        _walk_dataset(sub, _join(_join(path, 'datasets'), i))
    _walk_dataset(node.get('dataset'), _join(path, 'dataset'))


def _walk_dataloader(node: Any, path: str) -> None:
    if not isinstance(node, dict):
        return
    _check_kwargs(DataLoader, node, path, _DATALOADER_KEYS)
    _walk_dataset(node.get('dataset'), _join(path, 'dataset'))
    for key in ('sampler', 'batch_sampler'):
        if isinstance(node.get(key), dict):
            _resolve(R.DATA_SAMPLERS, node[key], _join(path, key))
    if isinstance(node.get('collate_fn'), dict):
        _resolve(R.FUNCTIONS, node['collate_fn'], _join(path, 'collate_fn'),
                 check_kwargs=False)


def _walk_list(node: Any, path: str, registry, **kwargs) -> None:
    """Resolve a dict, or each dict of a list, in ``registry``."""
    if isinstance(node, dict):
        _resolve(registry, node, path, **kwargs)
    elif isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            if isinstance(item, dict):
                _resolve(registry, item, _join(path, i), **kwargs)


def _walk_evaluator(node: Any, path: str) -> None:
    if isinstance(node, dict) and 'metrics' in node:
        _resolve(R.EVALUATOR, node, path, default_type='Evaluator')
        _walk_list(node['metrics'], _join(path, 'metrics'), R.METRICS)
    else:
        _walk_list(node, path, R.METRICS)


def _walk_optim_wrapper(node: Any, path: str) -> None:
    if not isinstance(node, dict):
        return
    constructor = node.get('constructor')
    if constructor is not None:
        _resolve(R.OPTIM_WRAPPER_CONSTRUCTORS, {'type': constructor}, path)
    default = constructor in (None, 'DefaultOptimWrapperConstructor')
    _resolve(R.OPTIM_WRAPPERS, node, path, default_type='OptimWrapper',
             check_kwargs=default, consumed=_OPTIM_WRAPPER_KEYS)
    if default and isinstance(node.get('optimizer'), dict):
        _resolve(R.OPTIMIZERS, node['optimizer'], _join(path, 'optimizer'))


def _walk_runtime(cfg: Any) -> None:
    """Hooks, schedulers, loops, visualizer and the other Runner components."""
    hooks = cfg.get('default_hooks') or {}
    for name, hook in hooks.items():
        if isinstance(hook, dict):
            _resolve(R.HOOKS, hook, _join('default_hooks', name), consumed=_HOOK_KEYS)
    _walk_list(cfg.get('custom_hooks'), 'custom_hooks', R.HOOKS, consumed=_HOOK_KEYS)
    _walk_optim_wrapper(cfg.get('optim_wrapper'), 'optim_wrapper')
    _walk_list(cfg.get('param_scheduler'), 'param_scheduler', R.PARAM_SCHEDULERS,
               consumed=_SCHEDULER_KEYS)
    for key in ('train_cfg', 'val_cfg', 'test_cfg'):
        if isinstance(cfg.get(key), dict):
            _resolve(R.LOOPS, cfg[key], key)
    visualizer = cfg.get('visualizer')
    if isinstance(visualizer, dict):
        _resolve(R.VISUALIZERS, visualizer, 'visualizer')
        _walk_list(visualizer.get('vis_backends'), 'visualizer.vis_backends',
                   R.VISBACKENDS)
    if isinstance(cfg.get('log_processor'), dict):
        _resolve(R.LOG_PROCESSORS, cfg['log_processor'], 'log_processor',
                 default_type='LogProcessor')
    if isinstance(cfg.get('model_wrapper_cfg'), dict):
        _resolve(R.MODEL_WRAPPERS, cfg['model_wrapper_cfg'], 'model_wrapper_cfg',
                 check_kwargs=False)
    if isinstance(cfg.get('runner_type'), str):
        _resolve(R.RUNNERS, {'type': cfg['runner_type']}, 'runner_type')


def check_config(cfg: Union[Config, dict], check_checkpoints: bool = True) -> None:
    """Resolve every ``type`` and keyword of ``cfg`` before anything is built.

    Args:
        cfg (Config | dict): the merged config (see :func:`load_config`).
        check_checkpoints (bool): also map ``pretrained``, ``init_cfg.checkpoint``
            and ``load_from`` to local files. Defaults to True.

    Raises:
        UnknownTypeError: an unregistered ``type`` (a KeyError).
        UnknownKeywordError: a keyword the component does not take (a TypeError).
        MisspeltConfigKeyError: a misspelt top-level key, with the closest known key.
        ValueError: ``default_scope`` is set to something other than ``fcn_mm``.
        KeyError, FileNotFoundError: an unknown model-zoo name or a missing file.
    """
    scope = cfg.get('default_scope', None)
    if scope is not None and scope != R.SCOPE:
        raise ValueError(f"`default_scope` must be '{R.SCOPE}' for fcn_mm configs, "
                         f'got {scope!r}; set default_scope = {R.SCOPE!r}.')
    check_top_level_keys(cfg)
    checkpoints: list = []
    if cfg.get('model') is not None:
        _walk_model(cfg['model'], 'model', checkpoints)
    if isinstance(cfg.get('tta_model'), dict):
        _walk_model(cfg['tta_model'], 'tta_model', checkpoints)
    for key in list(cfg.keys()):
        if key.endswith('_pipeline'):
            _walk_pipeline(cfg[key], key)
        elif key.endswith('_dataloader'):
            _walk_dataloader(cfg[key], key)
        elif key.endswith('_evaluator'):
            _walk_evaluator(cfg[key], key)
    _walk_runtime(cfg)
    if cfg.get('load_from'):
        checkpoints.append((cfg['load_from'], 'load_from'))
    for name, key in checkpoints if check_checkpoints else []:
        resolve_checkpoint_name(name, cfg_key=key)


def checkpoint_names(cfg: Union[Config, dict]) -> List[Tuple[str, str]]:
    """Every checkpoint a config names, with its config key (nothing is looked up on disk).

    Args:
        cfg (Config | dict): a loaded config.

    Returns:
        list[tuple[str, str]]: ``(name, key)`` for each ``pretrained`` and
        ``init_cfg=dict(type='Pretrained', checkpoint=...)`` of ``model`` and ``tta_model``
        and for ``load_from``, e.g. ``('open-mmlab://resnet50_v1c', 'model.pretrained')``.
    """
    found: List[Tuple[str, str]] = []
    for key in ('model', 'tta_model'):
        if isinstance(cfg.get(key), dict):
            _walk_model(cfg[key], key, found, check_kwargs=False)
    if cfg.get('load_from'):
        found.append((cfg['load_from'], 'load_from'))
    return found


def load_config(config: Union[str, os.PathLike, Config],
                cfg_options: Optional[dict] = None) -> Config:
    """Read a config file (or copy a Config) and apply ``--cfg-options``.

    The one config loader of fcn_mm: the tools, the train / test set-up, ``init_model``
    and the analysis tools call it, then :func:`check_config`.

    Args:
        config (str | PathLike | Config): the config file, or a Config object (copied,
            not modified).
        cfg_options (dict, optional): ``{'a.b.0.c': value}`` overrides, as given by
            :class:`~fcn_mm.utils.cfg_options.CfgOptionsAction` or mmengine's
            ``DictAction`` (list items by index); ``dict(...)`` texts that
            ``DictAction`` leaves in values are parsed (literals only, see
            :func:`~fcn_mm.utils.cfg_options.resolve_cfg_options`).

    Returns:
        Config: the merged config (not yet checked: call :func:`check_config`).

    Raises:
        FileNotFoundError: the file, or a ``_base_`` file it inherits, is missing
            (names the missing file and the config that asked for it).
        TypeError: ``config`` is neither a path nor a Config.
        ValueError: ``cfg_options`` do not fit the config, or a ``dict(...)`` value
            holds something other than literals.
    """
    if isinstance(config, Config):
        cfg, filename = copy.deepcopy(config), config.filename
    elif isinstance(config, (str, os.PathLike)):
        filename = osp.abspath(osp.expanduser(os.fspath(config)))
        if not osp.isfile(filename):
            raise FileNotFoundError(f'Config file {os.fspath(config)!r} does not exist '
                                    f'(absolute path {filename!r}).')
        check_base_files(filename)
        cfg = Config.fromfile(filename)
    else:
        raise TypeError(f'config must be a file path or a mmengine Config, got '
                        f'{type(config).__name__}')
    if cfg_options:
        cfg_options = resolve_cfg_options(cfg_options)
        try:
            cfg.merge_from_dict(cfg_options, allow_list_keys=True)
        except (KeyError, TypeError, IndexError, ValueError) as e:
            raise ValueError(f'--cfg-options {dict(cfg_options)} cannot be applied to '
                             f'{filename!r}: {e}') from e
    return cfg
