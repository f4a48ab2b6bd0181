"""Speed options for segmentors: channels_last, torch.compile and inference autocast.

Config keys (all optional, top level of a config)::

    speed = dict(
        channels_last=False,  # NHWC memory format for the model's weights and its
                              # input images (oneDNN's fast path on CPU, tensor
                              # cores on CUDA); training and inference
        compile=False,        # True or a dict of torch.compile kwargs: compiles the
                              # backbone, neck and heads in place for inference
                              # (training is compiled by mmengine's top-level
                              # ``compile`` key, which compiles ``train_step``)
        amp=False,            # autocast for inference: fp16 on CUDA; on a CPU, bf16
                              # where a short probe measures it faster than float32
                              # (fcn_mm.utils.device.cpu_bf16_decision), else float32
                              # (training AMP is ``optim_wrapper.type='AmpOptimWrapper'``,
                              # train.py --amp)
        amp_dtype=None)       # 'bfloat16': bf16 autocast without the probe (force it)

:func:`apply_speed_options` changes a built model in place and keeps its
``state_dict`` keys (so checkpoints load before or after it);
:func:`inference_autocast` is the matching context for ``test_step``/``predict``.
"""
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, ContextManager, Mapping, Optional, Union

import torch
from torch import nn

from mmengine.logging import print_log

from fcn_mm.utils.device import amp_policy, cpu_bf16_decision

__all__ = ['SPEED_KEYS', 'COMPILE_TARGETS', 'SpeedOptions', 'speed_options_from_cfg',
           'apply_speed_options', 'inference_autocast', 'autocast_dtype', 'AMP_DTYPES']

SPEED_KEYS = ('channels_last', 'compile', 'amp', 'amp_dtype')
AMP_DTYPES = (None, 'bfloat16')
INFERENCE_FORCE_HINT = "speed.amp_dtype='bfloat16'"
# submodules compiled in place (the segmentor's own forward dispatches on python
# objects and data samples, which would only add graph breaks)
COMPILE_TARGETS = ('backbone', 'neck', 'decode_head', 'auxiliary_head')
_HOOK_ATTR = '_fcn_mm_channels_last_hook'


@dataclass(frozen=True)
class SpeedOptions:
    """The speed options of one run.

    Attributes:
        channels_last (bool): NHWC weights and inputs.
        compile (bool | dict): False, True, or ``torch.compile`` kwargs.
        amp (bool): autocast (fp16 on CUDA; bf16 on a CPU where it is faster).
        amp_dtype (str, optional): ``'bfloat16'`` forces bf16 autocast; None lets
            the machine decide.
    """
    channels_last: bool = False
    compile: Union[bool, dict] = False
    amp: bool = False
    amp_dtype: Optional[str] = None


def _check_compile(value: Any, key: str) -> Union[bool, dict]:
    if isinstance(value, bool):
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f'{key} must be a bool or a dict of torch.compile arguments, '
                    f'got {value!r}')


def speed_options_from_cfg(cfg: Optional[Mapping], **overrides: Any) -> SpeedOptions:
    """Read ``cfg.speed`` and apply overrides (e.g. from command-line flags).

    Args:
        cfg (Config | dict, optional): a config; its ``speed`` dict is read (missing
            keys keep their defaults).
        **overrides: ``channels_last``, ``compile`` or ``amp``; a value of None
            keeps the config's value.

    Returns:
        SpeedOptions: the resolved options.

    Raises:
        TypeError: ``speed`` is not a dict, or a value has the wrong type.
        KeyError: an unknown key in ``speed`` or in ``overrides``.
    """
    speed = (cfg.get('speed', None) if cfg is not None else None) or {}
    if not isinstance(speed, Mapping):
        raise TypeError(f'speed must be a dict with keys {SPEED_KEYS}, got {speed!r}')
    values = dict(SpeedOptions().__dict__)
    for source, mapping in (('speed', speed), ('speed option', overrides)):
        for key, value in mapping.items():
            if key not in SPEED_KEYS:
                raise KeyError(f'unknown {source} key {key!r}; expected one of {SPEED_KEYS}')
            if value is not None:
                values[key] = value
    for key in ('channels_last', 'amp'):
        if not isinstance(values[key], bool):
            raise TypeError(f'speed.{key} must be True or False, got {values[key]!r}')
    values['compile'] = _check_compile(values['compile'], 'speed.compile')
    if values['amp_dtype'] not in AMP_DTYPES:
        raise ValueError(f"speed.amp_dtype must be None (the machine decides) or "
                         f"'bfloat16', got {values['amp_dtype']!r}")
    return SpeedOptions(**values)


def _to_channels_last_hook(module: nn.Module, args: tuple) -> tuple:
    """Forward pre-hook: make a 4-d image batch NHWC before the first conv."""
    if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
        return (args[0].contiguous(memory_format=torch.channels_last),) + tuple(args[1:])
    return args


def _input_module(model: nn.Module) -> nn.Module:
    """The module that receives the image batch: the backbone when there is one."""
    backbone = getattr(model, 'backbone', None)
    return backbone if isinstance(backbone, nn.Module) else model


def _compile_in_place(model: nn.Module, kwargs: dict) -> None:
    targets = [getattr(model, name) for name in COMPILE_TARGETS
               if isinstance(getattr(model, name, None), nn.Module)]
    for module in targets or [model]:
        module.compile(**kwargs)


def apply_speed_options(model: nn.Module, channels_last: bool = False,
                        compile: Union[bool, dict] = False) -> nn.Module:
    """Make a built model faster, in place; ``state_dict`` keys do not change.

    Args:
        model (nn.Module): a segmentor (or any module).
        channels_last (bool): convert 4-d weights to ``torch.channels_last`` and
            convert the image batch entering the backbone (a forward pre-hook, added
            once). Convolutions then produce NHWC outputs all the way through.
        compile (bool | dict): ``nn.Module.compile`` (in place, so parameter names
            stay) on ``backbone``, ``neck``, ``decode_head`` and ``auxiliary_head``
            where present, else on ``model``; a dict gives ``torch.compile`` kwargs.

    Returns:
        nn.Module: ``model`` itself.
    """
    compile = _check_compile(compile, 'compile')
    if channels_last:
        model.to(memory_format=torch.channels_last)
        target = _input_module(model)
        if getattr(target, _HOOK_ATTR, None) is None:
            setattr(target, _HOOK_ATTR,
                    target.register_forward_pre_hook(_to_channels_last_hook))
    if compile is not False:
        _compile_in_place(model, {} if compile is True else compile)
    return model


_LOGGED_REASONS = set()


def _log_once(message: str, level: int) -> None:
    if message not in _LOGGED_REASONS:
        _LOGGED_REASONS.add(message)
        print_log(message, logger='current', level=level)


def autocast_dtype(device: Optional[str] = None, enabled: bool = True,
                   dtype: Optional[str] = None, log: bool = False) -> torch.dtype:
    """The dtype that :func:`inference_autocast` computes convolutions in.

    Args:
        device (str, optional): ``'cpu'``, ``'cuda'``, ``'cuda:1'`` ... (default: the
            default device).
        enabled (bool): whether autocast is asked for.
        dtype (str, optional): ``'bfloat16'`` forces bf16; None: fp16 on CUDA, and on
            a CPU bf16 where :func:`~fcn_mm.utils.device.cpu_bf16_decision` measures
            it faster (inference probe), else float32.
        log (bool): log the CPU decision in one line (once per process).

    Returns:
        torch.dtype: bf16, fp16 or float32.
    """
    if not enabled:
        return torch.float32
    if dtype is not None:
        if dtype not in AMP_DTYPES:
            raise ValueError(f"amp dtype must be None or 'bfloat16', got {dtype!r}")
        return getattr(torch, dtype)
    policy = amp_policy(device)
    if policy.device_type != 'cpu':
        return policy.dtype
    decision = cpu_bf16_decision(training=False, force_hint=INFERENCE_FORCE_HINT)
    if log:
        _log_once(f"speed.amp: {'bfloat16 autocast: ' if decision.use_bf16 else ''}"
                  f'{decision.reason}',
                  logging.INFO if decision.use_bf16 else logging.WARNING)
    return torch.bfloat16 if decision.use_bf16 else torch.float32


def inference_autocast(device: Optional[str] = None, enabled: bool = True,
                       dtype: Optional[str] = None) -> ContextManager:
    """Autocast context for inference (``test_step``, ``predict``, ``tensor`` mode).

    fp16 on CUDA; on a CPU bf16 only where it is measurably faster than float32
    (:func:`autocast_dtype`, which logs the decision once), else no autocast.

    Args:
        device (str, optional): the model's device (default: the default device).
        enabled (bool): False gives a no-op context.
        dtype (str, optional): ``'bfloat16'`` forces bf16 (``speed.amp_dtype``).

    Returns:
        ContextManager: ``torch.autocast(...)`` or ``contextlib.nullcontext()``.
    """
    cast = autocast_dtype(device, enabled, dtype, log=True)
    if cast == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=amp_policy(device).device_type, dtype=cast)
