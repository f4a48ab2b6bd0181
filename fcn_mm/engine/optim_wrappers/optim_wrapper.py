"""OptimWrapper with a guard against non-finite losses.

Registered as ``OptimWrapper`` in fcn_mm's OPTIM_WRAPPERS, so configs that say
``optim_wrapper=dict(type='OptimWrapper', optimizer=...)`` get it unchanged.

A NaN or infinite loss never reaches ``backward``/``step``: the weights and the
optimizer state stay as they were. Then, by default, training stops with a
:class:`NonFiniteLossError` (fcn_mm's ``IterBasedTrainLoop`` raises it naming the
iteration and every loss term, before any hook of that iteration can save a
checkpoint). With ``optim_wrapper=dict(..., skip_nonfinite=True)`` the step is skipped
instead and training goes on; the loop logs each skip and a running count
``nonfinite_skips``. In distributed runs all ranks skip together.

With gradient accumulation (``accumulative_counts=N``: the loss of each of N
iterations is divided by N and their gradients add up before one step), a non-finite
loss in any iteration of a window skips the whole window's step: its gradients are
dropped at the window's end, so a step never mixes a partial window in.
"""
import logging
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper as MMEngineOptimWrapper

from fcn_mm.registry import OPTIM_WRAPPERS

__all__ = ['OptimWrapper', 'NonFiniteLossError']


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite and training was stopped."""


@OPTIM_WRAPPERS.register_module()
class OptimWrapper(MMEngineOptimWrapper):
    """mmengine's OptimWrapper that refuses to step on a non-finite loss.

    Args:
        *args: passed to mmengine's ``OptimWrapper`` (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).
        skip_nonfinite (bool): skip steps whose loss is NaN/inf and go on, instead
            of stopping training. Defaults to False.
        **kwargs: passed to mmengine's ``OptimWrapper``.

    Attributes:
        nonfinite_skips (int): steps skipped by this wrapper so far.
        last_step_nonfinite (bool): whether the latest ``update_params`` saw a
            non-finite loss (and so did not step).
        report_nonfinite_in_loop (bool): set by fcn_mm's train loop, which then
            raises (or logs) with the loss terms; otherwise this wrapper raises
            (or logs) itself with the total loss only.
    """

    def __init__(self, *args, skip_nonfinite: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(skip_nonfinite, bool):
            raise TypeError('optim_wrapper.skip_nonfinite must be True or False, got '
                            f'{skip_nonfinite!r}')
        self.skip_nonfinite = skip_nonfinite
        self.nonfinite_skips = 0
        self.last_step_nonfinite = False
        self.report_nonfinite_in_loop = False
        self._window_nonfinite = False  # a non-finite loss earlier in this window

    def _loss_is_finite(self, loss: torch.Tensor) -> bool:
        finite = torch.isfinite(loss.detach()).all()
        if get_world_size() > 1:  # every rank must take the same decision
            bad = (~finite).to(torch.float32).reshape(1)
            all_reduce(bad, op='max')
            return bool(bad.item() == 0)
        return bool(finite)

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """Backward and step, unless ``loss`` is NaN/inf.

        Args:
            loss (torch.Tensor): the total loss (a scalar tensor).
            step_kwargs (dict, optional): arguments for ``optimizer.step``.
            zero_kwargs (dict, optional): arguments for ``optimizer.zero_grad``.

        Raises:
            NonFiniteLossError: on a non-finite loss when neither
                ``skip_nonfinite`` nor ``report_nonfinite_in_loop`` is set.
        """
        self.last_step_nonfinite = not self._loss_is_finite(loss)
        if not self.last_step_nonfinite:
            if not self._window_nonfinite:
                super().update_params(loss, step_kwargs=step_kwargs,
                                      zero_kwargs=zero_kwargs)
                return
            # finite, but the window is spoilt: accumulate as usual, never step
            self.backward(self.scale_loss(loss))
            self._end_spoilt_window(zero_kwargs)
            return
        iteration = self._inner_count + 1
        # Count the micro-step as done (as backward would) and drop this window's
        # gradients at an update boundary, so nothing non-finite is ever applied.
        self._inner_count += 1
        self._window_nonfinite = True
        self._end_spoilt_window(zero_kwargs)
        if self.skip_nonfinite:
            self.nonfinite_skips += 1
            if not self.report_nonfinite_in_loop:
                print_log(f'Iteration {iteration}: non-finite loss {loss.item()}; step '
                          f'skipped ({self.nonfinite_skips} skipped so far).',
                          logger='current', level=logging.WARNING)
            return
        if not self.report_nonfinite_in_loop:
            raise NonFiniteLossError(
                f'Non-finite loss {loss.item()} at iteration {iteration}; training '
                'stopped and the step was not applied. Set '
                'optim_wrapper.skip_nonfinite=True to skip such steps instead.')

    def _end_spoilt_window(self, zero_kwargs: Optional[Dict]) -> None:
        """At a window's end, drop the gradients of a window with a non-finite loss."""
        if self.should_update():
            self.zero_grad(**(zero_kwargs or {}))
            self._window_nonfinite = False
