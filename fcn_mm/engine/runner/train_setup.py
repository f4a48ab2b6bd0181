"""What ``tools/train.py`` does between parsing its arguments and ``runner.train()``.

Each step is a function so that tests (and other tools) can call it:

- :func:`load_run_config`: load the config, apply ``--cfg-options``, pre-flight check;
- :func:`resolve_work_dir`: CLI ``--work-dir`` > ``work_dir`` in the config >
  ``./work_dirs/<config stem>``;
- :func:`apply_resume`: ``--resume`` alone resumes from the newest checkpoint in the
  work dir, ``--resume CKPT`` from that file;
- :func:`enable_amp`: ``--amp`` switches to fcn_mm's ``AmpOptimWrapper``;
- :func:`prepare_data`: generate the demo data when the config has ``demo_data``;
- :func:`build_runner`: ``cfg.runner_type`` through ``RUNNERS``, else ``Runner.from_cfg``.
"""
import os.path as osp
import subprocess
from typing import Optional

import torch.distributed as dist
from mmengine.config import Config
from mmengine.dist import get_dist_info
from mmengine.logging import print_log
from mmengine.runner import Runner

from fcn_mm.registry import RUNNERS
from fcn_mm.utils import register_all_modules
from fcn_mm.utils.config_check import check_config, load_config
from fcn_mm.utils.device import amp_policy
from .checkpoint_io import find_latest_complete_checkpoint
from .distributed import maybe_convert_syncbn, setup_distributed
from .speed_setup import apply_speed_config
from .work_dir import check_work_dir

__all__ = ['AUTO_RESUME', 'load_run_config', 'check_run_config', 'resolve_work_dir',
           'apply_resume', 'enable_amp', 'prepare_data', 'build_runner', 'git_hash',
           'log_run_info', 'setup_train_config']

AUTO_RESUME = 'auto'


def load_run_config(config: str, cfg_options: Optional[dict] = None) -> Config:
    """Load ``config``, merge ``--cfg-options`` into it and check it.

    Args:
        config (str): path of the config file.
        cfg_options (dict, optional): ``key=value`` overrides (``DictAction`` output).

    Returns:
        Config: the merged config.
    """
    register_all_modules(init_default_scope=False)
    return load_config(config, cfg_options=cfg_options)


def check_run_config(cfg: Config) -> None:
    """Pre-flight: resolve every ``type`` in ``cfg`` before anything is built."""
    check_config(cfg)


def resolve_work_dir(cfg: Config, config: str, work_dir: Optional[str] = None) -> str:
    """Set ``cfg.work_dir``: CLI, then the config, then ``./work_dirs/<config stem>``.

    Args:
        cfg (Config): changed in place.
        config (str): the config path (its stem names the default work dir).
        work_dir (str, optional): ``--work-dir`` from the command line.

    Returns:
        str: the chosen work dir.
    """
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    return cfg.work_dir


def apply_resume(cfg: Config, resume: Optional[str]) -> None:
    """Translate ``--resume [CKPT]`` into mmengine's ``resume`` / ``load_from``.

    Args:
        cfg (Config): changed in place; ``cfg.work_dir`` must be set.
        resume (str, optional): None (no resume), :data:`AUTO_RESUME` (the newest
            complete checkpoint in the work dir; none there: train from the start)
            or the path of a checkpoint.
    """
    if resume is None:
        return
    cfg.resume = True
    if resume == AUTO_RESUME:
        work_dir = cfg.get('work_dir') or '.'
        cfg.load_from = find_latest_complete_checkpoint(
            [work_dir], pointer=osp.join(work_dir, 'last_checkpoint'))
        print_log(f'--resume: newest complete checkpoint in {work_dir}: '
                  f'{cfg.load_from or "none, training starts from iteration 0"}',
                  logger='current')
        return
    if not osp.isfile(resume):
        raise FileNotFoundError(f'--resume {resume}: no such checkpoint file')
    cfg.load_from = resume


def enable_amp(cfg: Config) -> None:
    """Switch ``cfg.optim_wrapper`` to fcn_mm's ``AmpOptimWrapper``.

    Keeps (or sets) ``loss_scale='dynamic'`` where the device uses loss scaling (fp16
    on CUDA) and removes ``loss_scale`` where it does not (bf16 on CPU).

    Args:
        cfg (Config): changed in place.
    """
    if cfg.get('optim_wrapper') is None:
        raise KeyError('--amp needs an `optim_wrapper` in the config '
                       f'{cfg.filename}, which has none')
    optim_wrapper = cfg.optim_wrapper
    if optim_wrapper.get('type') == 'AmpOptimWrapper':
        print_log('AMP is already enabled in the config', logger='current')
    optim_wrapper.type = 'AmpOptimWrapper'
    if amp_policy().use_loss_scaling:
        optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        optim_wrapper.pop('loss_scale', None)


def prepare_data(cfg: Config) -> Optional[str]:
    """Generate the demo data if ``cfg.demo_data`` is set (rank 0 first, then the rest).

    Args:
        cfg (Config): the run's config.

    Returns:
        str | None: the demo data root, or None when the config has no ``demo_data``.
    """
    demo_cfg = cfg.get('demo_data')
    if demo_cfg is None:
        return None
    from fcn_mm.datasets.demo_data import prepare_demo_data
    rank, world_size = get_dist_info()
    if rank == 0:
        root = prepare_demo_data(**demo_cfg)
    if world_size > 1:
        dist.barrier()
        if rank != 0:
            root = prepare_demo_data(**demo_cfg)
    return root


def build_runner(cfg: Config) -> Runner:
    """Build the Runner: ``cfg.runner_type`` via ``RUNNERS`` if given, else ``Runner``."""
    if cfg.get('runner_type') is not None:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def git_hash(digits: int = 8) -> str:
    """The git commit of the fcn_mm source tree, or ``'unknown'`` outside a checkout."""
    here = osp.dirname(osp.abspath(__file__))
    try:
        out = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=here, capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return 'unknown'
    return out[:digits] or 'unknown'


def log_run_info(runner: Runner) -> None:
    """Log the fcn_mm version and git hash (the Runner logs config and environment)."""
    from fcn_mm import __version__
    runner.logger.info(f'fcn_mm {__version__} (git {git_hash()}), '
                       f'work_dir {runner.work_dir}')


def setup_train_config(config: str, *, cfg_options: Optional[dict] = None,
                       work_dir: Optional[str] = None, resume: Optional[str] = None,
                       amp: bool = False, launcher: str = 'none',
                       local_rank: Optional[int] = None) -> Config:
    """Everything ``tools/train.py`` does before building the Runner.

    Args:
        config (str): config path.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        work_dir (str, optional): ``--work-dir``.
        resume (str, optional): ``--resume`` value (see :func:`apply_resume`).
        amp (bool): ``--amp``.
        launcher (str): ``--launcher``.
        local_rank (int, optional): ``--local-rank`` of the legacy launcher.

    Returns:
        Config: the config to build the Runner from.
    """
    cfg = load_run_config(config, cfg_options)
    setup_distributed(cfg, launcher, local_rank)
    maybe_convert_syncbn(cfg)
    resolve_work_dir(cfg, config, work_dir)
    apply_resume(cfg, resume)
    if amp:
        enable_amp(cfg)
    apply_speed_config(cfg, training=True)
    check_run_config(cfg)
    check_work_dir(cfg.work_dir)
    prepare_data(cfg)
    return cfg
