"""PreemptionHook: on SIGTERM / SIGUSR1, save a checkpoint at an iteration boundary and stop.

``tools/train.py`` adds this hook to every run (:func:`fcn_mm.apis.preemption.add_preemption_hook`).
What happens when a stop signal arrives (see :mod:`fcn_mm.utils.stop_signals`):

1. the current iteration finishes (forward, backward, step, its hooks); with gradient
   accumulation (``optim_wrapper.accumulative_counts=N``) training goes on to the end of
   the accumulation window, the next iteration after which the optimizer steps (an
   update boundary, at most ``N - 1`` iterations later), because the gradients
   accumulated so far are not part of a checkpoint;
2. the checkpoint of that iteration is written by the run's ``CheckpointHook`` (atomic
   file, then ``last_checkpoint``, the same file a regular save writes, random states
   included) unless that hook has just written it;
3. the loop stops; the process exits with
   :data:`~fcn_mm.utils.stop_signals.PREEMPTED_EXIT_CODE` (75), and ``--resume``
   continues exactly where it stopped.

A signal that arrives during validation stops training when the validation has finished,
with the checkpoint of the iteration validated (or, under accumulation, of the next update
boundary). A validation due at the stopping iteration
runs after that iteration's checkpoint is on disk, so a kill during it loses nothing.
Further signals while stopping are ignored, so they cannot cut the save short.

Distributed runs: every process catches the signals (slurm and torchrun signal all of
them, but not necessarily at the same moment), and the processes agree on the decision
with one all-reduce (max) of a one-element flag every ``interval`` iterations and after
each validation, so all of them stop after the same iteration and rank 0 saves. The
all-reduce is as cheap as the loss logging's synchronisation; ``interval`` > 1 checks less
often and stops up to ``interval - 1`` iterations later.

Only iteration-based training loops are handled (every fcn_mm config); with an
epoch-based loop the hook logs a warning and leaves the signals alone. The handlers are
put back after training, also when training raises (fcn_mm's ``IterBasedTrainLoop``
calls :meth:`PreemptionHook.after_train_failure`).
"""
import functools
from typing import List, Optional, Sequence, Union

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapperDict
from mmengine.runner import IterBasedTrainLoop as MMEngineIterBasedTrainLoop
from torch.utils.data import DataLoader

from fcn_mm.registry import HOOKS
from fcn_mm.utils.stop_signals import (DEFAULT_STOP_SIGNALS, PREEMPTED_EXIT_CODE,
                                       StopSignalCatcher, guard_worker)
from .checkpoint_hook import CheckpointHook

__all__ = ['PreemptionHook', 'is_update_boundary', 'next_update_boundary']


def _accumulative_counts(runner) -> List[int]:
    """``accumulative_counts`` of the run's optimizer wrapper(s) (1 without one)."""
    wrapper = getattr(runner, 'optim_wrapper', None)
    wrappers = list(wrapper.values()) if isinstance(wrapper, OptimWrapperDict) else [wrapper]
    return [int(getattr(w, '_accumulative_counts', 1) or 1) for w in wrappers] or [1]


def is_update_boundary(runner, step: int) -> bool:
    """Whether the optimizer stepped after iteration ``step`` (no gradients pending).

    mmengine's ``OptimWrapper`` steps when the iteration count is a multiple of
    ``accumulative_counts`` or the last one (``max_iters``); a resumed run counts from
    the checkpoint's iteration, so the windows stay aligned to multiples.

    Args:
        runner (Runner): the runner (its ``optim_wrapper`` and ``max_iters``).
        step (int): the number of iterations done (1-based).

    Returns:
        bool: True without accumulation, at a window's end, and at ``max_iters``.
    """
    if step >= runner.train_loop.max_iters:
        return True
    return all(step % counts == 0 for counts in _accumulative_counts(runner))


def next_update_boundary(runner, step: int) -> int:
    """The first iteration ``>= step`` after which the optimizer steps."""
    while not is_update_boundary(runner, step):
        step += 1
    return step


@HOOKS.register_module()
class PreemptionHook(Hook):
    """Stop training cleanly, with a checkpoint, when a stop signal arrives.

    Args:
        signals (Sequence[str | int]): the signals that stop training. Defaults to
            ``('SIGTERM', 'SIGUSR1')``; an empty list turns the hook off.
        interval (int): check for a stop request every this many iterations (and
            after each validation). Defaults to 1.

    Attributes:
        stopped_at (int | None): the iteration whose checkpoint was written when
            training stopped on a signal; None while running or when it ran to the end.
        checkpoint (str | None): the path of that checkpoint.
    """

    priority = 'LOWEST'  # after the logger, the scheduler and the CheckpointHook

    def __init__(self, signals: Sequence[Union[str, int]] = DEFAULT_STOP_SIGNALS,
                 interval: int = 1) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f'PreemptionHook.interval must be a positive integer, got '
                             f'{interval!r}')
        self.catcher = StopSignalCatcher(signals)
        self.interval = interval
        self.stopped_at: Optional[int] = None
        self.checkpoint: Optional[str] = None
        self._active = False
        self._stop_after_val = False
        self._stop_pending = False  # agreed to stop; waiting for an update boundary
        self._deferred_logged = False

    @property
    def exit_code(self) -> int:
        """:data:`PREEMPTED_EXIT_CODE` if training stopped on a signal before its end, else 0."""
        return PREEMPTED_EXIT_CODE if self.stopped_at is not None else 0

    def before_train(self, runner) -> None:
        """Install the signal handlers; make the DataLoader workers ignore the signals."""
        self.stopped_at, self.checkpoint, self._stop_after_val = None, None, False
        self._stop_pending, self._deferred_logged = False, False
        if not self.catcher.signals:
            return
        if not isinstance(runner.train_loop, MMEngineIterBasedTrainLoop):
            runner.logger.warning(
                f'PreemptionHook handles iteration-based training only, not '
                f'{type(runner.train_loop).__name__}; {self._names()} keep their default '
                'action (the process ends without a checkpoint)')
            return
        if not self.catcher.install(owner=self):
            runner.logger.warning('PreemptionHook: training does not run in the main '
                                  f'thread, so {self._names()} cannot be caught')
            return
        self._active = True
        for loop in (runner.train_loop, getattr(runner, '_val_loop', None)):
            self._quiet_workers(getattr(loop, 'dataloader', None))
        runner.logger.info(
            f'{self._names()}: training stops after the current iteration (under '
            'gradient accumulation: at the end of its window), saves a '
            f'checkpoint and exits with code {PREEMPTED_EXIT_CODE}; continue with --resume')

    def _names(self) -> str:
        return ', '.join(sig.name for sig in self.catcher.signals)

    def _quiet_workers(self, loader) -> None:
        """Make the workers of ``loader`` ignore the stop signals while training runs."""
        if not isinstance(loader, DataLoader) or loader.num_workers == 0:
            return
        current = loader.worker_init_fn
        if isinstance(current, functools.partial) and current.func is guard_worker:
            return
        loader.worker_init_fn = self.catcher.worker_init_fn(current)

    def _stop_requested(self) -> bool:
        """The local request, or any process's in a distributed run (all agree)."""
        local = self.catcher.requested
        if get_world_size() > 1:
            flag = torch.tensor([1 if local else 0], dtype=torch.int32)
            all_reduce(flag, op='max')
            return bool(flag.item())
        return local

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Every ``interval`` iterations: on a stop request, save and stop (at an
        update boundary: see :func:`is_update_boundary`)."""
        if not self._active or self.stopped_at is not None:
            return
        step = runner.iter + 1
        if not self._stop_pending:
            if step % self.interval != 0 or not self._stop_requested():
                return
            self._stop_pending = True  # every process agreed (one all-reduce)
        if is_update_boundary(runner, step):
            self._stop(runner, step)
        else:
            self._log_deferred(runner, step)

    def after_val_epoch(self, runner, metrics=None) -> None:
        """A request during validation: stop when the loop regains control."""
        if not self._active or self.stopped_at is not None or self._stop_pending:
            return
        if self._stop_requested():
            if is_update_boundary(runner, runner.iter):
                self._stop_after_val = True
                runner.train_loop.stop_training = True
            else:
                self._stop_pending = True
                self._log_deferred(runner, runner.iter)

    def _log_deferred(self, runner, step: int) -> None:
        """Say once that the stop waits for the end of the accumulation window."""
        if self._deferred_logged:
            return
        self._deferred_logged = True
        target = next_update_boundary(runner, step)
        runner.logger.info(
            f'Stop requested after iteration {step}: gradients are being accumulated '
            f'(optim_wrapper.accumulative_counts), so training goes on to iteration '
            f'{target}, the next optimizer step, and stops there with its checkpoint')

    def after_train_epoch(self, runner) -> None:
        """Save the checkpoint of a stop requested during validation (outside it)."""
        if self._active and self._stop_after_val and self.stopped_at is None:
            self._stop(runner, runner.iter)

    def after_train(self, runner) -> None:
        """Put the previous signal handlers back."""
        self._deactivate()

    def after_train_failure(self, runner) -> None:
        """Training raised: put the previous signal handlers back (called by the loop)."""
        self._deactivate()

    def _deactivate(self) -> None:
        if self._active:
            self.catcher.restore()
        self._active = False
        self._stop_pending = False
        self._deferred_logged = False

    def _stop(self, runner, step: int) -> None:
        """Write the checkpoint of iteration ``step``, log it and stop the loop."""
        runner.train_loop.stop_training = True
        max_iters = runner.train_loop.max_iters
        if step >= max_iters:  # nothing left to resume: end as a finished run
            runner.logger.info(f'Stop signal at the last iteration ({step}/{max_iters}): '
                               'training has finished')
            return
        received = self.catcher.received
        cause = received[0] if received else 'a stop signal to another process'
        self.checkpoint = self._save(runner, step)
        self.stopped_at = step
        saved = (f'saved the checkpoint {self.checkpoint}' if self.checkpoint else
                 'no CheckpointHook in this run (default_hooks.checkpoint), so nothing was '
                 'saved')
        ignored = len(self.catcher.received) - 1
        extra = f'; {ignored} later signal(s) ignored' if ignored > 0 else ''
        runner.logger.info(
            f'Stop requested by {cause}: stopped after iteration {step}/{max_iters} and '
            f'{saved}{extra}. Exiting with code {PREEMPTED_EXIT_CODE}; run the same '
            'command with --resume to continue.')

    def _save(self, runner, step: int) -> Optional[str]:
        """Save ``step`` through the run's CheckpointHook; its path (None without one)."""
        hook = next((h for h in runner.hooks if isinstance(h, CheckpointHook)), None)
        if hook is None:
            runner.logger.warning('PreemptionHook: no fcn_mm CheckpointHook in this run; '
                                  'training stops without a checkpoint')
            return None
        path = hook.file_backend.join_path(hook.out_dir, hook.filename_tmpl.format(step))
        if hook.last_ckpt == path and hook.file_backend.isfile(path):
            return path  # the CheckpointHook saved this iteration already
        runner.logger.info(f'Saving checkpoint at {step} iterations (stop requested)')
        hook._save_checkpoint_with_step(runner, step,
                                        meta=dict(epoch=runner.epoch, iter=step))
        return path
