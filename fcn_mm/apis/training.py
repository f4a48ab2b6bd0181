"""What ``tools/train.py`` does between parsing its arguments and ``runner.train()``.

Each step is a function so that tests (and other tools) can call it:

- :func:`common_setup` (train and test): load the config with ``--cfg-options``
  (:func:`~fcn_mm.utils.config_check.load_config`), distributed running, SyncBN -> BN and
  :func:`resolve_work_dir` (CLI ``--work-dir`` > the config > ``./work_dirs/<config stem>``);
- :func:`apply_resume`: ``--resume`` alone resumes from the newest checkpoint in the
  work dir, ``--resume CKPT`` from that file; a worker that torchrun restarted (elastic
  mode, ``TORCHELASTIC_RESTART_COUNT`` > 0) resumes from the newest complete checkpoint
  in the work dir by itself (:func:`elastic_restart_count`);
- :func:`~fcn_mm.engine.optim_wrappers.enable_amp`: ``--amp`` switches to fcn_mm's
  ``AmpOptimWrapper``;
- :func:`~fcn_mm.utils.batch_scaling.apply_auto_scale_lr`: ``--auto-scale-lr`` (or
  ``auto_scale_lr.enable``) scales the LR to the total batch, accumulation included;
- :func:`~fcn_mm.apis.preemption.add_preemption_hook`: SIGTERM / SIGUSR1 save a
  checkpoint and stop (exit code 75);
- :func:`finish_setup` (train and test): the speed options, the pre-flight check
  (:func:`~fcn_mm.utils.config_check.check_config`; for training also scheduler
  ``end=None`` -> ``train_cfg.max_iters`` and the schedule-length check of
  :mod:`fcn_mm.utils.schedule_length`), the work-dir check and
  :func:`prepare_data` (the demo data when the config has ``demo_data``), then for
  training the label check of a sample of the masks
  (:func:`~fcn_mm.apis.label_check.label_check_before_training`, ``label_check``);
- :func:`build_runner`: ``cfg.runner_type`` through ``RUNNERS``, else ``Runner.from_cfg``.
"""
import os
import os.path as osp
import subprocess
from typing import Optional

import torch.distributed as dist
from mmengine.config import Config
from mmengine.dist import broadcast_object_list, get_dist_info, get_world_size
from mmengine.logging import print_log
from mmengine.runner import Runner

from fcn_mm.datasets.demo_data import prepare_demo_data
from fcn_mm.engine.hooks import TrainProgressHook
from fcn_mm.engine.optim_wrappers import enable_amp
from fcn_mm.registry import RUNNERS
from fcn_mm.utils.batch_scaling import apply_auto_scale_lr, check_accumulation
from fcn_mm.utils.checkpoint_files import find_latest_complete_checkpoint
from fcn_mm.utils.config_check import check_config, load_config
from fcn_mm.utils.schedule_length import bind_schedule_to_train_length, check_schedule_length
from fcn_mm.utils.setup_env import register_all_modules
from fcn_mm.utils.syncbn import maybe_convert_syncbn
from fcn_mm.utils.work_dir import check_work_dir
from fcn_mm.version import __version__
from .distributed import setup_distributed
from .label_check import label_check_before_training
from .preemption import add_preemption_hook
from .speed import apply_speed_config

__all__ = ['AUTO_RESUME', 'elastic_restart_count', 'resolve_work_dir', 'apply_resume', 'prepare_data',
           'build_runner', 'git_hash', 'log_run_info', 'common_setup', 'finish_setup',
           'setup_train_config', 'add_progress_hook']

AUTO_RESUME = 'auto'


def common_setup(config: str, cfg_options: Optional[dict], work_dir: Optional[str],
                 launcher: str, local_rank: Optional[int]) -> Config:
    """The first steps of train.py and test.py: load, go distributed, SyncBN -> BN, work dir.

    Args:
        config (str): config path.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        work_dir (str, optional): ``--work-dir`` (see :func:`resolve_work_dir`).
        launcher (str): ``--launcher``.
        local_rank (int, optional): ``--local-rank`` of the legacy launcher.

    Returns:
        Config: the loaded config (checked by :func:`finish_setup`).
    """
    register_all_modules(init_default_scope=False)
    cfg = load_config(config, cfg_options=cfg_options)
    setup_distributed(cfg, launcher, local_rank)
    maybe_convert_syncbn(cfg)
    resolve_work_dir(cfg, config, work_dir)
    return cfg


def finish_setup(cfg: Config, training: bool) -> Config:
    """The last steps of train.py and test.py: speed options, checks, the demo data.

    Args:
        cfg (Config): the run's config (changed in place).
        training (bool): True for tools/train.py.

    Returns:
        Config: ``cfg``, to build the Runner from.
    """
    apply_speed_config(cfg, training=training)
    if training:
        bind_schedule_to_train_length(cfg)
    check_config(cfg)
    if training:
        check_schedule_length(cfg)
        check_accumulation(cfg)
    check_work_dir(cfg.work_dir)
    prepare_data(cfg)
    if training:
        label_check_before_training(cfg)
    return cfg


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


def elastic_restart_count() -> int:
    """How often torchrun has restarted this worker (0: first attempt or no torchrun).

    torchrun sets ``TORCHELASTIC_RESTART_COUNT`` in every worker it starts: 0 at first,
    then the number of restarts (``--max-restarts``) after a worker of the group failed.
    """
    value = os.environ.get('TORCHELASTIC_RESTART_COUNT', '0').strip() or '0'
    try:
        return max(int(value), 0)
    except ValueError:
        raise ValueError(f'TORCHELASTIC_RESTART_COUNT={value!r}: expected the integer '
                         'that torchrun sets (0, 1, ...)') from None


def _newest_checkpoint(work_dir: str) -> Optional[str]:
    """The newest complete checkpoint in ``work_dir``, as rank 0 sees it (all agree)."""
    found = [find_latest_complete_checkpoint(
        [work_dir], pointer=osp.join(work_dir, 'last_checkpoint'))]
    if get_world_size() > 1:
        broadcast_object_list(found, src=0)
    return found[0]


def apply_resume(cfg: Config, resume: Optional[str]) -> None:
    """Translate ``--resume [CKPT]`` into mmengine's ``resume`` / ``load_from``.

    A worker restarted by torchrun (:func:`elastic_restart_count` > 0) resumes from
    the newest complete checkpoint in the work dir whatever ``resume`` says (the
    checkpoint given by ``--resume CKPT`` when the work dir has none yet).

    Args:
        cfg (Config): changed in place; ``cfg.work_dir`` must be set.
        resume (str, optional): None (no resume), :data:`AUTO_RESUME` (the newest
            complete checkpoint in the work dir; none there: train from the start)
            or the path of a checkpoint.
    """
    work_dir = cfg.get('work_dir') or '.'
    restarts = elastic_restart_count()
    if restarts > 0:
        newest = _newest_checkpoint(work_dir)
        given = resume not in (None, AUTO_RESUME)
        fallback = f'none, resuming from --resume {resume}' if given else \
            'none, training starts from iteration 0'
        print_log(f'torchrun restart {restarts} (TORCHELASTIC_RESTART_COUNT): newest '
                  f'complete checkpoint in {work_dir}: {newest or fallback}',
                  logger='current')
        if newest is not None or not given:
            cfg.resume, cfg.load_from = True, newest
            return
    if resume is None:
        return
    cfg.resume = True
    if resume == AUTO_RESUME:
        cfg.load_from = _newest_checkpoint(work_dir)
        print_log(f'--resume: newest complete checkpoint in {work_dir}: '
                  f'{cfg.load_from or "none, training starts from iteration 0"}',
                  logger='current')
        return
    if not osp.isfile(resume):
        raise FileNotFoundError(f'--resume {resume}: no such checkpoint file')
    cfg.load_from = resume


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
    runner.logger.info(f'fcn_mm {__version__} (git {git_hash()}), '
                       f'work_dir {runner.work_dir}')


def setup_train_config(config: str, *, cfg_options: Optional[dict] = None,
                       work_dir: Optional[str] = None, resume: Optional[str] = None,
                       amp: bool = False, launcher: str = 'none',
                       local_rank: Optional[int] = None,
                       auto_scale_lr: bool = False) -> Config:
    """Everything ``tools/train.py`` does before building the Runner.

    Args:
        config (str): config path.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        work_dir (str, optional): ``--work-dir``.
        resume (str, optional): ``--resume`` value (see :func:`apply_resume`).
        amp (bool): ``--amp``.
        launcher (str): ``--launcher``.
        local_rank (int, optional): ``--local-rank`` of the legacy launcher.
        auto_scale_lr (bool): ``--auto-scale-lr``: scale the LR by the total batch
            (processes x batch size x accumulative_counts) over
            ``auto_scale_lr.base_batch_size`` (see
            :func:`~fcn_mm.utils.batch_scaling.apply_auto_scale_lr`).

    Returns:
        Config: the config to build the Runner from.
    """
    cfg = common_setup(config, cfg_options, work_dir, launcher, local_rank)
    apply_auto_scale_lr(cfg, get_world_size(), enable=auto_scale_lr)
    apply_resume(cfg, resume)
    if amp:
        enable_amp(cfg)
    add_progress_hook(cfg)
    add_preemption_hook(cfg)
    return finish_setup(cfg, training=True)


def add_progress_hook(cfg: Config) -> None:
    """Append ``TrainProgressHook`` to ``cfg.custom_hooks`` unless it is there already.

    The hook draws a live progress line only on a terminal (see
    :class:`~fcn_mm.engine.hooks.TrainProgressHook`); list it in the config with
    ``enabled=False`` to turn it off, or with other ``refresh_s`` / ``window``.

    Args:
        cfg (Config): changed in place.
    """
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(isinstance(h, dict) and h.get('type') in ('TrainProgressHook',
                                                          TrainProgressHook)
               for h in hooks):
        hooks.append(dict(type='TrainProgressHook'))
    cfg.custom_hooks = hooks
