"""Distributed set-up that runs on CPU (gloo) as well as CUDA (nccl).

mmengine 0.10.7 cannot run DDP without CUDA as shipped: its ``init_dist`` calls
``torch.cuda.set_device``, ``Runner.wrap_model`` passes ``device_ids`` to DDP, and
SyncBN needs CUDA. The tools therefore call :func:`setup_distributed` before building
the Runner:

1. the launcher's environment (torchrun, slurm or MPI) is mapped onto torchrun's
   ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``MASTER_ADDR``/``MASTER_PORT``;
2. the process group is initialised here with the backend that
   :func:`fcn_mm.utils.device.dist_backend` picks (a configured ``nccl`` becomes
   ``gloo`` without CUDA, with a warning), so the Runner finds it initialised and
   skips its own ``init_dist``;
3. without CUDA the model is wrapped in ``MMDistributedDataParallel`` without
   ``device_ids`` (``model_wrapper_cfg``).

SyncBN -> BN where SyncBN cannot run is :func:`fcn_mm.utils.syncbn.maybe_convert_syncbn`.
"""
import datetime
import os
import subprocess
import warnings
from typing import Any, Dict, Mapping, Optional, Tuple

import torch
import torch.distributed as dist

from fcn_mm.utils.device import default_device, dist_backend

__all__ = ['LAUNCHERS', 'dist_env_from_launcher', 'setup_distributed',
           'teardown_distributed']

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
_DEFAULT_PORT = '29500'


def _first(environ: Mapping[str, str], *names: str) -> Optional[str]:
    for name in names:
        if environ.get(name) not in (None, ''):
            return environ[name]
    return None


def _require(environ: Mapping[str, str], launcher: str, *names: str) -> str:
    value = _first(environ, *names)
    if value is None:
        raise KeyError(f'--launcher {launcher} needs the environment variable '
                       f'{" or ".join(names)}, which is not set; start the job with '
                       f'the matching launcher (torchrun, srun or mpirun)')
    return value


def _slurm_master_addr(node_list: str) -> str:
    try:
        out = subprocess.run(['scontrol', 'show', 'hostname', node_list],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise KeyError('--launcher slurm: MASTER_ADDR is not set and `scontrol show '
                       f'hostname {node_list}` failed; export MASTER_ADDR') from e
    return out.split()[0]


def _slurm_env(environ: Mapping[str, str]) -> Dict[str, str]:
    rank = _require(environ, 'slurm', 'SLURM_PROCID')
    env = {'RANK': rank, 'WORLD_SIZE': _require(environ, 'slurm', 'SLURM_NTASKS')}
    local = _first(environ, 'SLURM_LOCALID')
    if local is None:
        local = str(int(rank) % max(1, torch.cuda.device_count()))
    env['LOCAL_RANK'] = local
    addr = _first(environ, 'MASTER_ADDR')
    if addr is None:
        addr = _slurm_master_addr(_require(environ, 'slurm', 'SLURM_NODELIST',
                                           'SLURM_JOB_NODELIST'))
    env['MASTER_ADDR'] = addr
    return env


def _mpi_env(environ: Mapping[str, str]) -> Dict[str, str]:
    env = {
        'RANK': _require(environ, 'mpi', 'OMPI_COMM_WORLD_RANK', 'PMI_RANK'),
        'WORLD_SIZE': _require(environ, 'mpi', 'OMPI_COMM_WORLD_SIZE', 'PMI_SIZE'),
        'LOCAL_RANK': _first(environ, 'OMPI_COMM_WORLD_LOCAL_RANK',
                             'MPI_LOCALRANKID') or '0',
    }
    addr = _first(environ, 'MASTER_ADDR')
    if addr is None:
        local_size = _first(environ, 'OMPI_COMM_WORLD_LOCAL_SIZE', 'MPI_LOCALNRANKS')
        if local_size != env['WORLD_SIZE']:
            raise KeyError('--launcher mpi on several nodes needs MASTER_ADDR '
                           '(the address of rank 0); export it before mpirun')
        addr = '127.0.0.1'
    env['MASTER_ADDR'] = addr
    return env


def dist_env_from_launcher(launcher: str, environ: Mapping[str, str],
                           local_rank: Optional[int] = None) -> Dict[str, str]:
    """torchrun-style variables for ``launcher``, read from ``environ``.

    Args:
        launcher (str): ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        environ (Mapping[str, str]): the process environment.
        local_rank (int, optional): ``--local-rank`` from the legacy
            ``torch.distributed.launch``; used when ``LOCAL_RANK`` is unset.

    Returns:
        dict: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
        ``MASTER_PORT`` as strings.
    """
    if launcher == 'pytorch':
        env = {'RANK': _require(environ, launcher, 'RANK'),
               'WORLD_SIZE': _require(environ, launcher, 'WORLD_SIZE'),
               'LOCAL_RANK': _first(environ, 'LOCAL_RANK') or str(local_rank or 0),
               'MASTER_ADDR': _require(environ, launcher, 'MASTER_ADDR')}
    elif launcher == 'slurm':
        env = _slurm_env(environ)
    elif launcher == 'mpi':
        env = _mpi_env(environ)
    else:
        raise ValueError(f'--launcher must be one of {LAUNCHERS[1:]} for distributed '
                         f'runs, got {launcher!r}')
    env['MASTER_PORT'] = _first(environ, 'MASTER_PORT', 'PORT') or _DEFAULT_PORT
    return env


def _select_backend(cfg: Any) -> Tuple[str, Dict[str, Any]]:
    """The backend to use and the other ``env_cfg.dist_cfg`` arguments."""
    env_cfg = cfg.get('env_cfg') or {}
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    configured = dist_cfg.pop('backend', None)
    backend = dist_backend(configured)
    if configured is not None and configured != backend:
        warnings.warn(f'env_cfg.dist_cfg.backend={configured!r} needs CUDA, which is '
                      f'not available; using {backend!r} instead')
    timeout = dist_cfg.pop('timeout', None)
    if timeout is not None:
        if not isinstance(timeout, (int, float)):
            raise TypeError('env_cfg.dist_cfg.timeout must be a number of seconds, '
                            f'got {timeout!r}')
        dist_cfg['timeout'] = datetime.timedelta(seconds=timeout)
    return backend, dist_cfg


def _cpu_model_wrapper_cfg(cfg: Any) -> None:
    """Make the Runner wrap the model in DDP without ``device_ids`` (CPU)."""
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg['model_wrapper_cfg'] = wrapper


def setup_distributed(cfg: Any, launcher: str,
                      local_rank: Optional[int] = None) -> Tuple[int, int]:
    """Initialise the process group for ``launcher`` and adapt ``cfg`` to the device.

    Sets ``cfg.launcher`` and, for a distributed launcher, ``cfg.env_cfg.dist_cfg.backend``
    to the backend used (and ``cfg.model_wrapper_cfg`` without CUDA).

    Args:
        cfg (Config): the run's config; changed in place.
        launcher (str): one of ``'none'``, ``'pytorch'``, ``'slurm'``, ``'mpi'``.
        local_rank (int, optional): ``--local-rank`` of the legacy launcher.

    Returns:
        tuple[int, int]: ``(rank, world_size)``; ``(0, 1)`` for ``'none'``.
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f'--launcher must be one of {LAUNCHERS}, got {launcher!r}')
    cfg['launcher'] = launcher
    if launcher == 'none':
        return 0, 1
    os.environ.update(dist_env_from_launcher(launcher, os.environ, local_rank))
    backend, kwargs = _select_backend(cfg)
    env_cfg = dict(cfg.get('env_cfg') or {})
    env_cfg['dist_cfg'] = dict(env_cfg.get('dist_cfg') or {}, backend=backend)
    cfg['env_cfg'] = env_cfg
    if default_device() == 'cuda':
        torch.cuda.set_device(int(os.environ['LOCAL_RANK']))
    else:
        _cpu_model_wrapper_cfg(cfg)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, init_method='env://',
                                rank=int(os.environ['RANK']),
                                world_size=int(os.environ['WORLD_SIZE']), **kwargs)
    return dist.get_rank(), dist.get_world_size()


def teardown_distributed() -> None:
    """End a distributed run cleanly: wait for every rank, then destroy the process group.

    Without this, a rank that reaches interpreter exit while gloo's threads still run can
    abort with "terminate called without an active exception" and fail the whole job.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
