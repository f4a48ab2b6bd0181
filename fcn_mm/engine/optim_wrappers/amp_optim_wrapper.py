"""Mixed-precision optim wrapper that runs on CPU (bf16) and CUDA (fp16 + loss scaling).

mmengine's ``AmpOptimWrapper`` asserts a CUDA-like device. This one asks
:func:`fcn_mm.utils.device.amp_policy` what to do on the current device:

- CUDA: ``torch.autocast('cuda', float16)`` with a ``GradScaler`` (dynamic, static or
  configured by a dict through ``loss_scale``);
- CPU: ``torch.autocast('cpu', bfloat16)`` without a scaler (bf16 has fp32's range),
  but only where bf16 is measurably faster than float32 on this CPU
  (:func:`fcn_mm.utils.device.cpu_bf16_decision`: a short probe, cached); elsewhere
  float32 without autocast, with the measured ratio in one log line.
  ``dtype='bfloat16'`` forces bf16 without the probe.

An explicit ``dtype='float16'`` gets a GradScaler on either device.

Configs use it under mmengine's name, e.g.
``optim_wrapper = dict(type='AmpOptimWrapper', optimizer=dict(type='SGD', lr=0.01))``;
``tools/train.py --amp`` (and the benchmark's ``--amp``) switch any config to it with
:func:`enable_amp`.
"""
import logging
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from fcn_mm.registry import OPTIM_WRAPPERS
from fcn_mm.utils.device import amp_policy, cpu_bf16_decision
from .optim_wrapper import OptimWrapper

__all__ = ['AmpOptimWrapper', 'enable_amp', 'amp_summary']

_VALID_DTYPES = ('float16', 'bfloat16', 'float32', 'float64')
TRAINING_FORCE_HINT = "optim_wrapper.dtype='bfloat16'"


def _resolve_dtype(dtype: Union[str, torch.dtype, None],
                   default: torch.dtype) -> torch.dtype:
    """Turn the configured ``dtype`` (name, torch dtype or None) into a torch dtype."""
    if dtype is None:
        return default
    if isinstance(dtype, str):
        if dtype not in _VALID_DTYPES:
            raise ValueError(f'optim_wrapper.dtype must be one of {_VALID_DTYPES}, '
                             f'got {dtype!r}')
        return getattr(torch, dtype)
    if isinstance(dtype, torch.dtype):
        return dtype
    raise TypeError('optim_wrapper.dtype must be a str, a torch.dtype or None, '
                    f'got {type(dtype).__name__}')


def _build_scaler(loss_scale: Union[str, float, dict],
                  device_type: str) -> tuple:
    """Build a GradScaler from ``loss_scale``.

    Returns:
        tuple: ``(scaler, static_scale)``; ``static_scale`` is the float passed to
        ``scaler.update`` each step for static scaling, else None.
    """
    if loss_scale == 'dynamic':
        return torch.amp.GradScaler(device_type), None
    if isinstance(loss_scale, (int, float)) and not isinstance(loss_scale, bool):
        return torch.amp.GradScaler(device_type, init_scale=float(loss_scale)), \
            float(loss_scale)
    if isinstance(loss_scale, dict):
        return torch.amp.GradScaler(device_type, **loss_scale), None
    raise TypeError("optim_wrapper.loss_scale must be 'dynamic', a number or a dict of "
                    f'GradScaler arguments, got {loss_scale!r}')


def _check_loss_scale(loss_scale: Union[str, float, dict]) -> None:
    """Validate ``loss_scale`` the same way on every device."""
    if isinstance(loss_scale, str) and loss_scale != 'dynamic':
        raise ValueError("optim_wrapper.loss_scale must be 'dynamic', a number or a "
                         f'dict, got {loss_scale!r}')
    if not isinstance(loss_scale, (str, int, float, dict)) or isinstance(loss_scale, bool):
        raise TypeError("optim_wrapper.loss_scale must be 'dynamic', a number or a dict "
                        f'of GradScaler arguments, got {loss_scale!r}')


@OPTIM_WRAPPERS.register_module()
class AmpOptimWrapper(OptimWrapper):
    """Automatic mixed precision on CPU and CUDA, with the ``OptimWrapper`` interface.

    Args:
        loss_scale (str | float | dict): ``'dynamic'`` (a default ``GradScaler``), a
            number (static scale) or a dict of ``GradScaler`` arguments. Used only for
            fp16 (the CUDA default); ignored for bf16.
            Defaults to ``'dynamic'``.
        dtype (str | torch.dtype, optional): autocast dtype; one of ``'float16'``,
            ``'bfloat16'``, ``'float32'``, ``'float64'`` (the last two: no autocast,
            full precision). Defaults to None: the device's policy (fp16 on CUDA;
            on a CPU bf16 where the probe measures it at least 1.15x faster than
            float32, else float32). ``'bfloat16'`` forces bf16 on a CPU.
        device (str, optional): the device the model trains on. Defaults to None:
            :func:`fcn_mm.utils.device.default_device`, where the Runner puts it.
        native_bf16_only (bool, optional): kept for older configs. None or True:
            the machine decides as above (with ``dtype=None``); False: bf16 on a CPU
            without the probe (as ``dtype='bfloat16'``). Defaults to None.
        **kwargs: passed to :class:`OptimWrapper` (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).
    """

    def __init__(self,
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Union[str, torch.dtype, None] = None,
                 device: Optional[str] = None,
                 native_bf16_only: Optional[bool] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        _check_loss_scale(loss_scale)
        if native_bf16_only is not None and not isinstance(native_bf16_only, bool):
            raise TypeError('optim_wrapper.native_bf16_only must be True, False or None, '
                            f'got {native_bf16_only!r}')
        policy = amp_policy(device)
        self.device_type = policy.device_type
        self.cast_dtype = _resolve_dtype(dtype, policy.dtype)
        # float32 / float64: a full-precision run of an AMP config (no autocast)
        self.autocast_enabled = self.cast_dtype in (torch.float16, torch.bfloat16)
        decision = None
        if (dtype is None and native_bf16_only is not False and self.device_type == 'cpu'
                and self.cast_dtype == torch.bfloat16):
            decision = cpu_bf16_decision(training=True, force_hint=TRAINING_FORCE_HINT)
            if not decision.use_bf16:
                self.cast_dtype, self.autocast_enabled = torch.float32, False
        self._scale_update_param: Optional[float] = None
        self.loss_scaler: Optional[torch.amp.GradScaler] = None
        # fp16 (the CUDA policy, or asked for explicitly) needs loss scaling
        if self.cast_dtype == torch.float16:
            self.loss_scaler, self._scale_update_param = _build_scaler(
                loss_scale, self.device_type)
        elif loss_scale != 'dynamic':
            print_log(f'AmpOptimWrapper: loss_scale={loss_scale!r} is ignored: '
                      f'{self.cast_dtype} autocast on {self.device_type} needs no '
                      'loss scaling', logger='current')
        if decision is not None and not decision.use_bf16:
            print_log(f'AMP: {decision.reason}', logger='current', level=logging.WARNING)
        elif decision is not None:
            print_log(f'AMP: {amp_summary(self)} ({decision.reason})', logger='current')
        else:
            print_log(f'AMP: {amp_summary(self)}', logger='current')

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        """Back-propagate ``loss``, scaled first when a GradScaler is in use.

        Args:
            loss (torch.Tensor): the scalar loss of the current iteration.
            **kwargs: passed to :meth:`torch.Tensor.backward`.
        """
        if self.loss_scaler is not None:
            loss = self.loss_scaler.scale(loss)
        super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        """Update the parameters (unscaling, clipping and skipping non-finite steps).

        Args:
            **kwargs: passed to :meth:`torch.optim.Optimizer.step`.
        """
        if self.loss_scaler is None:
            super().step(**kwargs)
            return
        if self.clip_grad_kwargs:
            self.loss_scaler.unscale_(self.optimizer)
            self._clip_grad()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update(self._scale_update_param)

    def state_dict(self) -> dict:
        """The optimizer's state dict, plus ``loss_scaler`` when a scaler is in use."""
        state_dict = super().state_dict()
        if self.loss_scaler is not None:
            state_dict['loss_scaler'] = self.loss_scaler.state_dict()
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state dict written by :meth:`state_dict` (or by a plain OptimWrapper).

        A ``loss_scaler`` entry is restored when this wrapper has a scaler, and
        dropped with a message otherwise (e.g. resuming a CUDA fp16 run on CPU).

        Args:
            state_dict (dict): the optimizer state, optionally with ``loss_scaler``.
        """
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop('loss_scaler', None)
        if scaler_state is not None:
            if self.loss_scaler is not None:
                self.loss_scaler.load_state_dict(scaler_state)
            else:
                print_log('AmpOptimWrapper: the checkpoint has a loss_scaler state '
                          f'but {self.cast_dtype} on {self.device_type} uses no '
                          'scaler; it is dropped', logger='current')
        super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Gradient-accumulation context of the parent, inside ``torch.autocast``.

        Args:
            model (nn.Module): the model being trained.
        """
        with super().optim_context(model), torch.autocast(
                device_type=self.device_type, dtype=self.cast_dtype,
                enabled=self.autocast_enabled):
            yield


def amp_summary(wrapper: 'AmpOptimWrapper') -> str:
    """One line on the precision in use, e.g. ``'bfloat16 autocast on cpu, no loss scaling'``.

    Args:
        wrapper (AmpOptimWrapper): a built wrapper.

    Returns:
        str: the autocast dtype, the device type and the loss scaling.
    """
    dtype = str(wrapper.cast_dtype).replace('torch.', '')
    if wrapper.loss_scaler is None:
        scaling = 'no loss scaling'
    elif wrapper._scale_update_param is not None:
        scaling = f'static loss scale {wrapper._scale_update_param:g}'
    else:
        scaling = f'dynamic loss scaling (initial scale {wrapper.loss_scaler.get_scale():g})'
    accumulate = (f', gradients accumulated over {wrapper._accumulative_counts} iterations'
                  if wrapper._accumulative_counts > 1 else '')
    if not wrapper.autocast_enabled:
        return f'{dtype} without autocast on {wrapper.device_type}, {scaling}{accumulate}'
    return f'{dtype} autocast on {wrapper.device_type}, {scaling}{accumulate}'


def enable_amp(cfg: Any) -> None:
    """Switch ``cfg.optim_wrapper`` to fcn_mm's ``AmpOptimWrapper``.

    Keeps (or sets) ``loss_scale='dynamic'`` where the device uses loss scaling (fp16
    on CUDA) and removes ``loss_scale`` where it does not (bf16 on CPU).

    Args:
        cfg (Config): changed in place.

    Raises:
        KeyError: the config has no ``optim_wrapper``.
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
