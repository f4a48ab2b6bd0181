"""Apply the config's ``speed`` options (see :mod:`fcn_mm.utils.speed_options`)
to what tools/train.py and tools/test.py run.

- training: ``speed.channels_last`` converts the model (weights and input images);
  ``speed.compile`` becomes mmengine's top-level ``compile`` key (which compiles the
  training step); mixed precision stays ``--amp`` (``AmpOptimWrapper``).
- testing: ``speed.channels_last`` and ``speed.compile`` are applied to the model
  itself (mmengine compiles only training); ``speed.amp`` runs the test loop under
  autocast (fp16 on CUDA; on a CPU bf16 where a short probe measures it faster than
  float32, else float32 with one log line that says why; ``speed.amp_dtype='bfloat16'``
  forces bf16).
"""
import torch
from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from fcn_mm.utils.speed_options import (apply_speed_options, autocast_dtype,
                                         speed_options_from_cfg)

__all__ = ['apply_speed_config', 'apply_speed_to_runner']


def apply_speed_config(cfg: Config, training: bool) -> None:
    """Translate ``cfg.speed`` into the config keys mmengine reads, before the Runner
    is built.

    Args:
        cfg (Config): the run's config (changed in place).
        training (bool): True for tools/train.py, False for tools/test.py.
    """
    opts = speed_options_from_cfg(cfg)
    if training:
        if opts.compile is not False and not cfg.get('compile'):
            cfg.compile = opts.compile
        return
    if opts.amp and autocast_dtype(enabled=True, dtype=opts.amp_dtype,
                                   log=True) != torch.float32:
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, fp16=True)


def apply_speed_to_runner(runner: Runner, cfg: Config, training: bool) -> None:
    """Apply channels_last (and, for testing, compile) to the Runner's model in place.

    Args:
        runner (Runner): a built Runner.
        cfg (Config): its config (``speed`` is read).
        training (bool): True for tools/train.py (compile is left to mmengine).
    """
    opts = speed_options_from_cfg(cfg)
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    compile_opt = False if training else opts.compile
    if opts.channels_last or compile_opt is not False:
        apply_speed_options(model, channels_last=opts.channels_last, compile=compile_opt)
        runner.logger.info(f'speed options: channels_last={opts.channels_last}, '
                           f'compile={compile_opt}')
