"""Model-zoo names (``open-mmlab://``, ``torchvision://``, ``mmcls://``, URLs) -> files.

fcn_mm never downloads weights. A name in ``pretrained``, ``init_cfg.checkpoint`` or
``load_from`` is mapped to the file name mmengine would have downloaded (for
``open-mmlab://resnet50_v1c``: ``resnet50_v1c-2cccc1ad.pth``, from mmengine's own
model-zoo json files under ``mmengine/hub``), which is then looked up in

1. ``$FCN_MM_HOME/checkpoints/`` (default ``~/.cache/fcn_mm/checkpoints/``), then
2. ``$TORCH_HOME/hub/checkpoints/`` (default ``~/.cache/torch/hub/checkpoints/``, where
   torch and mmengine keep downloaded files).

:func:`load_from_model_zoo` is the mmengine ``CheckpointLoader`` scheme of these prefixes
(registered by :func:`fcn_mm.utils.checkpoint_schemes.install_checkpoint_schemes`), so
``init_cfg=dict(type='Pretrained', checkpoint=...)`` and ``load_from`` can never reach the
network.
"""
import difflib
import functools
import os
import os.path as osp
import shlex
from typing import Any, Dict, List, Optional
from urllib.parse import urlparse

import mmengine
import torch
from mmengine.runner.checkpoint import _process_mmcls_checkpoint

from .safe_loading import load_checkpoint_file

__all__ = ['resolve_checkpoint_name', 'checkpoint_search_dirs', 'is_model_zoo_name',
           'checkpoint_url', 'checkpoint_file_name', 'fetch_command', 'ZOO_PREFIXES',
           'UnknownCheckpointNameError']

_OPENMMLAB = ('open-mmlab://', 'openmmlab://')
_TORCHVISION = ('torchvision://', 'modelzoo://')
_MMCLS = ('mmcls://',)
_HTTP = ('http://', 'https://')
ZOO_PREFIXES = _OPENMMLAB + _TORCHVISION + _MMCLS + _HTTP


class UnknownCheckpointNameError(KeyError):
    """A model-zoo name that mmengine's lists do not have (printed without quotes)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


def checkpoint_search_dirs() -> List[str]:
    """Folders searched for model-zoo files, in order.

    Returns:
        list[str]: ``$FCN_MM_HOME/checkpoints`` and ``$TORCH_HOME/hub/checkpoints``.
    """
    fcn_mm_home = os.environ.get('FCN_MM_HOME', osp.join('~', '.cache', 'fcn_mm'))
    return [osp.join(osp.expanduser(fcn_mm_home), 'checkpoints'),
            osp.join(torch.hub.get_dir(), 'checkpoints')]


def is_model_zoo_name(name: Any) -> bool:
    """Whether ``name`` is a string with one of :data:`ZOO_PREFIXES`."""
    return isinstance(name, str) and name.startswith(ZOO_PREFIXES)


def _load_hub_json(file_name: str) -> Dict[str, str]:
    return mmengine.load(osp.join(mmengine.__path__[0], 'hub', file_name))


@functools.lru_cache(maxsize=None)
def _zoo_urls(kind: str) -> Dict[str, str]:
    """Name -> URL maps of mmengine's hub json files (cached)."""
    if kind == 'openmmlab':
        from mmengine.runner.checkpoint import get_external_models
        return dict(get_external_models())
    if kind == 'mmcls':
        return _load_hub_json('mmcls.json')
    urls = _load_hub_json('torchvision_0.12.json')
    return urls


def _torchvision_url(model_name: str) -> Optional[str]:
    urls = _zoo_urls('torchvision')
    if model_name not in urls:  # torchvision >= 0.13 names such as resnet50.imagenet1k_v2
        from mmengine.runner.checkpoint import get_torchvision_models
        urls = get_torchvision_models()
    return urls.get(model_name)


def _unknown_name(name: str, model_name: str, known: List[str],
                  source: str) -> UnknownCheckpointNameError:
    close = difflib.get_close_matches(model_name, known, n=3, cutoff=0.6)
    hint = f' Did you mean: {", ".join(repr(c) for c in close)}?' if close else ''
    return UnknownCheckpointNameError(
        f'Unknown model-zoo name {name!r}: {model_name!r} is not in {source}.{hint}')


def checkpoint_url(name: str) -> str:
    """The public URL that a model-zoo name stands for (from mmengine's hub lists).

    Args:
        name (str): ``open-mmlab://NAME``, ``torchvision://NAME``, ``mmcls://NAME`` (and
            their aliases) or an ``http(s)://`` URL (returned as it is).

    Returns:
        str: the URL mmengine would download the file from.

    Raises:
        KeyError: an unknown model-zoo name (with close matches).
        ValueError: ``name`` has none of :data:`ZOO_PREFIXES`.
    """
    if not is_model_zoo_name(name):
        raise ValueError(f'{name!r} is not a model-zoo name or URL (expected one of '
                         f'{", ".join(ZOO_PREFIXES)})')
    if name.startswith(_HTTP):
        return name
    prefix = next(p for p in ZOO_PREFIXES if name.startswith(p))
    model_name = name[len(prefix):]
    if prefix in _OPENMMLAB:
        from mmengine.runner.checkpoint import get_deprecated_model_names
        model_name = get_deprecated_model_names().get(model_name, model_name)
        url = _zoo_urls('openmmlab').get(model_name)
        source = "mmengine's hub/openmmlab.json"
        known = list(_zoo_urls('openmmlab'))
    elif prefix in _MMCLS:
        url = _zoo_urls('mmcls').get(model_name)
        source, known = "mmengine's hub/mmcls.json", list(_zoo_urls('mmcls'))
    else:
        url = _torchvision_url(model_name)
        source = "mmengine's torchvision model list"
        known = list(_zoo_urls('torchvision'))
    if url is None:
        raise _unknown_name(name, model_name, known, source)
    return url


def checkpoint_file_name(name: str) -> str:
    """The local file name of a model-zoo name or URL (the last part of its URL's path).

    Args:
        name (str): as for :func:`checkpoint_url`.

    Returns:
        str: e.g. ``'resnet50_v1c-2cccc1ad.pth'`` for ``'open-mmlab://resnet50_v1c'``.
    """
    return osp.basename(urlparse(checkpoint_url(name)).path)


def fetch_command(url: str, path: str) -> str:
    """A one-line shell command that downloads ``url`` to ``path`` (folder created).

    Args:
        url (str): the public URL.
        path (str): the local file to write.

    Returns:
        str: ``mkdir -p <folder> && curl -L -o <path> <url>``, quoted for a POSIX shell.
    """
    return (f'mkdir -p {shlex.quote(osp.dirname(path) or ".")} && '
            f'curl -L -o {shlex.quote(path)} {shlex.quote(url)}')


def _missing_file(name: str, dirs: List[str], cfg_key: Optional[str]) -> FileNotFoundError:
    url, file_name = checkpoint_url(name), checkpoint_file_name(name)
    target = osp.join(dirs[0], file_name)
    off = f'--cfg-options {cfg_key}=None' if cfg_key else \
        '--cfg-options model.pretrained=None'
    stands = '' if name == url else f'{name!r} stands for {url}. '
    return FileNotFoundError(
        f'Pretrained checkpoint {name!r} needs the local file {file_name!r}, which is '
        f'in none of: {", ".join(repr(d) for d in dirs)}. fcn_mm never downloads '
        f'weights. {stands}Download it to {target} (or into another of these folders; '
        f'$FCN_MM_HOME and $TORCH_HOME choose them), e.g. with:\n'
        f'    {fetch_command(url, target)}\n'
        f'or turn it off with `{off}`. docs/pretrained.md lists the files the configs '
        'need.')


def resolve_checkpoint_name(name: str, cfg_key: Optional[str] = None) -> str:
    """Map a checkpoint name to an existing local file; never downloads.

    Args:
        name (str): ``open-mmlab://NAME``, ``openmmlab://NAME``, ``torchvision://NAME``,
            ``modelzoo://NAME``, ``mmcls://NAME``, an ``http(s)://`` URL, or a local
            path. Other schemes (``s3://`` ...) are returned unchanged.
        cfg_key (str, optional): the config key that holds ``name`` (for the
            ``--cfg-options KEY=None`` hint of the error message).

    Returns:
        str: the path of the local file.

    Raises:
        KeyError: an unknown model-zoo name (with close matches).
        FileNotFoundError: the file is not found; names the folders searched.
    """
    if not isinstance(name, str):
        raise TypeError(f'A checkpoint name must be a str, got {type(name).__name__}: '
                        f'{name!r}' + (f' (config key `{cfg_key}`)' if cfg_key else ''))
    if not is_model_zoo_name(name):
        if '://' in name:
            return name
        path = osp.expanduser(name)
        if not osp.isfile(path):
            where = f' (config key `{cfg_key}`)' if cfg_key else ''
            raise FileNotFoundError(f'Checkpoint file {name!r}{where} does not exist '
                                    f'(absolute path {osp.abspath(path)!r}).')
        return path
    file_name = checkpoint_file_name(name)
    dirs = checkpoint_search_dirs()
    for folder in dirs:
        candidate = osp.join(folder, file_name)
        if osp.isfile(candidate):
            return candidate
    raise _missing_file(name, dirs, cfg_key)


def load_from_model_zoo(filename: str, map_location: Any = None) -> Any:
    """mmengine ``CheckpointLoader`` scheme for zoo names and URLs: local files only.

    Args:
        filename (str): a name with one of :data:`ZOO_PREFIXES`.
        map_location: as for :func:`torch.load`.

    Returns:
        Any: the checkpoint (``mmcls://`` ones reduced to the backbone, as mmengine does).
    """
    checkpoint = load_checkpoint_file(resolve_checkpoint_name(filename), map_location)
    if filename.startswith(_MMCLS):
        checkpoint = _process_mmcls_checkpoint(checkpoint)
    return checkpoint

