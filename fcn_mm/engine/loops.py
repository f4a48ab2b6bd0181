"""Training, validation and test loops registered under mmengine's names.

``IterBasedTrainLoop`` differs from mmengine's in five ways:

- Resume without replay: with fcn_mm's ``InfiniteSampler`` the data stream restarts
  at ``iteration * batch_size`` instead of loading and dropping the first batches.
  Each sample is prepared under its own seed (see ``samplers.py``), so random
  augmentations line up after a resume for any ``num_workers``.
- The DataLoader iterator is created when training starts (after the optimizer,
  schedulers and checkpoint are set up), not when the loop is built, so a config
  that cannot be built fails before any data is loaded. Creating the iterator and
  running validation leave the training random streams untouched.
- A NaN/inf loss stops training with the iteration and every loss term before the
  iteration's hooks run (so no checkpoint of that state is written), or, with
  ``optim_wrapper.skip_nonfinite=True``, is skipped and counted
  (``nonfinite_skips`` in the log).
- An error raised inside a DataLoader worker (corrupt image, missing file, bad
  label) is re-raised with the dataset's own message, without torch's
  "Caught ... in DataLoader worker process" wrapping. ``ValLoop``/``TestLoop`` do the
  same. The worker's number is added as a note (in the message on Python < 3.11).
- When training raises, each hook's ``after_train_failure(runner)`` runs (if it has
  one) before the error propagates: the PreemptionHook puts the signal handlers back.

A hook may end training early with ``runner.train_loop.stop_training = True``
(mmengine's ``EarlyStoppingHook`` does); the loop then stops after the current
iteration and logs where it stopped and the best checkpoint, if one is kept.
"""
import contextlib
import logging
import math
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner import autocast
from mmengine.runner import BaseLoop
from mmengine.runner import IterBasedTrainLoop as MMEngineIterBasedTrainLoop
from mmengine.runner import TestLoop as MMEngineTestLoop
from mmengine.runner import ValLoop as MMEngineValLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from mmengine.runner.utils import calc_dynamic_intervals
from torch.utils.data import DataLoader

from fcn_mm.registry import LOOPS
from fcn_mm.utils.rng import preserved_rng
from .optim_wrappers.optim_wrapper import NonFiniteLossError
from .samplers import InfiniteSampler, SampleSeededDataset, offset_sampler
from .val_outputs import PredictionLoss, per_class_scalars

__all__ = ['IterBasedTrainLoop', 'ValLoop', 'SegTestLoop', 'clean_worker_errors',
           'NonFiniteLossError', 'add_note']

_WORKER_MSG = re.compile(r'Caught (\S+) in DataLoader worker process (\d+)\.\n'
                         r'Original (Traceback .*)', re.S)


def _original_message(exc_name: str, traceback_text: str) -> Optional[str]:
    """The final ``Type: message`` block of a formatted traceback, message only."""
    short = exc_name.rsplit('.', 1)[-1]
    pattern = re.compile(rf'^(?:[\w.]+\.)?{re.escape(short)}(?:: (.*))?$', re.M)
    matches = list(pattern.finditer(traceback_text))
    if not matches:
        return None
    last = matches[-1]
    rest = traceback_text[last.end():].rstrip('\n')
    return ((last.group(1) or '') + rest).strip()


def _clean_worker_exception(exc: BaseException) -> Optional[BaseException]:
    text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    match = _WORKER_MSG.match(text)
    if match is None:
        return None
    exc_name, worker, traceback_text = match.groups()
    message = _original_message(exc_name, traceback_text)
    if not message:
        return None
    try:
        clean = type(exc)(message)
    except Exception:  # exception types whose constructor needs other arguments
        clean = RuntimeError(message)
    return add_note(clean, f'(raised in DataLoader worker process {worker}; its '
                    'traceback is shown above)')


def add_note(exc: BaseException, note: str) -> BaseException:
    """Attach ``note`` to ``exc``: ``add_note`` on Python 3.11+, else in the message.

    Python 3.9 and 3.10 have no ``BaseException.add_note``; there the note becomes a
    second line of the message (``args[0]``), so the traceback still shows it.

    Args:
        exc (BaseException): the exception (changed in place).
        note (str): one line of text.

    Returns:
        BaseException: ``exc``.
    """
    if callable(getattr(exc, 'add_note', None)):
        exc.add_note(note)
        return exc
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (f'{exc.args[0]}\n{note}',) + tuple(exc.args[1:])
    else:
        exc.args = tuple(exc.args) + (note,)
    return exc


def _shutdown_workers(holders: Sequence, exc: Optional[BaseException] = None) -> None:
    """Stop now the DataLoader workers of ``holders`` (and of ``exc``'s traceback).

    Without this, a finished or failed loop's workers live on until the iterator is
    garbage collected (a traceback keeps it alive), and torch then waits for them.
    A DataLoader's persistent iterator is dropped so a later ``iter()`` starts anew.

    Args:
        holders (Sequence): loops, DataLoaders or DataLoader iterators.
        exc (BaseException, optional): an exception whose frames may hold iterators.
    """
    found = []
    for holder in holders:  # a loop -> its iterator -> a wrapped iterator
        for _ in range(3):
            found.append(holder)
            holder = (getattr(holder, 'dataloader_iterator', None)
                      or getattr(holder, '_iterator', None))
    tb = exc.__traceback__ if exc is not None else None
    while tb is not None:
        found.append(tb.tb_frame.f_locals.get('self'))
        tb = tb.tb_next
    for obj in found:
        shutdown = getattr(obj, '_shutdown_workers', None)
        if callable(shutdown) and getattr(obj, '_workers', None):
            try:
                shutdown()
            except Exception:  # shutting down is best effort
                pass
        if isinstance(obj, DataLoader) and getattr(obj, '_iterator', None) is not None:
            obj._iterator = None


@contextlib.contextmanager
def clean_worker_errors(*holders) -> Iterator[None]:
    """Re-raise DataLoader worker errors with the original message only.

    torch re-raises a worker's exception in the main process as the same type whose
    message is the whole worker traceback. This keeps the type, uses the original
    message (e.g. the dataset's "cannot decode image <path>") and chains the
    wrapped exception, so the worker traceback is still printed above it. On any
    error the workers of the DataLoaders or iterators in ``holders`` (and of the
    iterator that raised) are shut down at once.

    Args:
        *holders: loops, DataLoaders or iterators whose workers to stop on error.
    """
    try:
        yield
    except Exception as exc:
        _shutdown_workers(holders, exc)
        clean = _clean_worker_exception(exc)
        if clean is None:
            raise
        raise clean from exc


def _is_finite(value) -> bool:
    if torch.is_tensor(value):
        return bool(torch.isfinite(value.detach()).all())
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    return True


def _format_terms(outputs: Dict) -> str:
    parts = []
    for key, value in outputs.items():
        if torch.is_tensor(value) and value.numel() == 1:
            value = value.item()
        parts.append(f'{key}={value:.6g}' if isinstance(value, float) else
                     f'{key}={value}')
    return ', '.join(parts)


def _wrap_seeded_dataset(dataloader: Union[DataLoader, Dict]) -> Union[DataLoader, Dict]:
    """Wrap the dataset config in SampleSeededDataset when fcn_mm's sampler is used."""
    if not isinstance(dataloader, dict):
        return dataloader
    sampler = dataloader.get('sampler')
    if not isinstance(sampler, dict) or sampler.get('sample_seeds', True) is False:
        return dataloader
    if sampler.get('type') not in ('InfiniteSampler', InfiniteSampler):
        return dataloader
    dataset = dataloader.get('dataset')
    if isinstance(dataset, dict) and dataset.get('type') is SampleSeededDataset:
        return dataloader
    return {**dataloader, 'dataset': dict(type=SampleSeededDataset, dataset=dataset)}


@LOOPS.register_module()
class IterBasedTrainLoop(MMEngineIterBasedTrainLoop):
    """Iteration-based training with exact resume and guarded steps.

    Args:
        runner (Runner): the runner.
        dataloader (DataLoader | dict): the training DataLoader or its config.
        max_iters (int): total training iterations.
        val_begin (int): iteration from which validation runs. Defaults to 1.
        val_interval (int): validate every this many iterations. Defaults to 1000.
        dynamic_intervals (list[tuple[int, int]], optional): (milestone, interval)
            pairs changing ``val_interval``.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict], max_iters: int,
                 val_begin: int = 1, val_interval: int = 1000,
                 dynamic_intervals: Optional[List[Tuple[int, int]]] = None) -> None:
        if (isinstance(max_iters, bool) or not isinstance(max_iters, (int, float))
                or int(max_iters) != max_iters or max_iters < 1):
            raise ValueError(f'train_cfg.max_iters must be a positive integer, got '
                             f'{max_iters!r}')
        BaseLoop.__init__(self, runner, _wrap_seeded_dataset(dataloader))
        self._max_iters = int(max_iters)
        self._max_epochs = 1
        self._epoch = 0
        self._iter = 0
        self.val_begin = val_begin
        self.val_interval = val_interval
        self.stop_training = False
        if hasattr(self.dataloader.dataset, 'metainfo'):
            self.runner.visualizer.dataset_meta = self.dataloader.dataset.metainfo
        self.dataloader_iterator = None  # created by run()
        self.dynamic_milestones, self.dynamic_intervals = calc_dynamic_intervals(
            self.val_interval, dynamic_intervals)

    def _batch_size(self) -> int:
        if self.dataloader.batch_size is not None:
            return self.dataloader.batch_size
        return int(getattr(self.dataloader.batch_sampler, 'batch_size', 1))

    def _start_data_stream(self) -> None:
        """Create the data iterator at the current iteration (no RNG use)."""
        sampler = offset_sampler(self.dataloader)
        with preserved_rng():
            if sampler is not None:
                sampler.set_start(self._iter * self._batch_size())
                self.dataloader_iterator = iter(self.dataloader)
                return
            self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)
        if self._iter > 0:
            print_log(f'The train sampler cannot start at an offset; loading and '
                      f'dropping {self._iter} batches to resume. Use fcn_mm\'s '
                      'InfiniteSampler for an exact resume without replay.',
                      logger='current', level=logging.WARNING)
            for _ in range(self._iter):
                next(self.dataloader_iterator)

    def run(self) -> torch.nn.Module:
        """Train until ``max_iters`` (or a hook sets ``stop_training``).

        When training raises, every hook with an ``after_train_failure(runner)``
        method is called before the error propagates (``after_train`` is not), so a
        hook can undo what ``before_train`` set up, e.g. the PreemptionHook's signal
        handlers.
        """
        try:
            return self._run()
        except BaseException:
            self._call_failure_hooks()
            raise

    def _call_failure_hooks(self) -> None:
        """Call ``after_train_failure`` of each hook; their errors are logged, not raised."""
        for hook in getattr(self.runner, 'hooks', ()):
            release = getattr(hook, 'after_train_failure', None)
            if not callable(release):
                continue
            try:
                release(self.runner)
            except Exception as e:  # the training error is the one to report
                print_log(f'{type(hook).__name__}.after_train_failure failed: {e!r}',
                          logger='current', level=logging.WARNING)

    def _run(self) -> torch.nn.Module:
        with clean_worker_errors(self, self.dataloader):
            self.runner.call_hook('before_train')
            self.runner.call_hook('before_train_epoch')
            if hasattr(self.runner.optim_wrapper, 'report_nonfinite_in_loop'):
                self.runner.optim_wrapper.report_nonfinite_in_loop = True
            self._start_data_stream()
            while self._iter < self._max_iters and not self.stop_training:
                self.runner.model.train()
                data_batch = next(self.dataloader_iterator)
                self.run_iter(data_batch)
                self._decide_current_val_interval()
                if (self.runner.val_loop is not None and self._iter >= self.val_begin
                        and (self._iter % self.val_interval == 0
                             or self._iter == self._max_iters)):
                    with preserved_rng():
                        self.runner.val_loop.run()
            self._log_early_stop()
            self.runner.call_hook('after_train_epoch')
            self.runner.call_hook('after_train')
        _shutdown_workers([self, self.dataloader])
        self.dataloader_iterator = None
        return self.runner.model

    def _log_early_stop(self) -> None:
        """Say that a hook ended training early (the hook logs its own reason)."""
        if not self.stop_training or self._iter >= self._max_iters:
            return
        best = self.runner.message_hub.get_info('best_ckpt')
        print_log(f'Training stopped early at iteration {self._iter}/{self._max_iters}: '
                  'a hook set train_loop.stop_training (the hook, e.g. EarlyStoppingHook or '
                  'PreemptionHook, logs its reason above)' + (f'; best checkpoint: {best}' if best else ''),
                  logger='current')

    def run_iter(self, data_batch: Sequence[dict]) -> None:
        """One training step; stops (or skips) on a non-finite loss.

        Args:
            data_batch (Sequence[dict]): a batch from the DataLoader.
        """
        self.runner.call_hook('before_train_iter', batch_idx=self._iter,
                              data_batch=data_batch)
        outputs = self.runner.model.train_step(
            data_batch, optim_wrapper=self.runner.optim_wrapper)
        outputs = self._guard_nonfinite(outputs)
        self.runner.call_hook('after_train_iter', batch_idx=self._iter,
                              data_batch=data_batch, outputs=outputs)
        self._iter += 1

    def _guard_nonfinite(self, outputs: Optional[Dict]) -> Optional[Dict]:
        optim_wrapper = self.runner.optim_wrapper
        skip = getattr(optim_wrapper, 'skip_nonfinite', False)
        if not isinstance(outputs, dict):
            return outputs
        hub = self.runner.message_hub
        bad = [k for k, v in outputs.items() if 'loss' in k and not _is_finite(v)]
        if not bad and not getattr(optim_wrapper, 'last_step_nonfinite', False):
            return {**outputs, 'nonfinite_skips': hub.get_info('nonfinite_skips', 0)} \
                if skip else outputs
        iteration = self._iter + 1
        terms = _format_terms(outputs)
        if not skip:
            raise NonFiniteLossError(
                f'Non-finite loss at iteration {iteration}/{self._max_iters}: {terms}. '
                'Training stopped before this iteration\'s hooks, so no checkpoint '
                'holds this state. Set optim_wrapper.skip_nonfinite=True to skip such '
                'steps instead.')
        count = hub.get_info('nonfinite_skips', 0) + 1
        hub.update_info('nonfinite_skips', count)
        print_log(f'Iteration {iteration}/{self._max_iters}: non-finite loss ({terms}); '
                  f'step skipped ({count} skipped so far).', logger='current',
                  level=logging.WARNING)
        kept = {k: v for k, v in outputs.items() if _is_finite(v)}
        return {**kept, 'nonfinite_skips': count}


class _CleanWorkerErrors:
    """Loop mixin: DataLoader worker errors keep the dataset's message."""

    def run(self) -> dict:
        """Run the loop once and return the metrics."""
        with clean_worker_errors(self.dataloader):
            return super().run()


@LOOPS.register_module()
class ValLoop(_CleanWorkerErrors, MMEngineValLoop):
    """mmengine's ValLoop with a validation loss on request and per-class scalars.

    - DataLoader worker errors keep the dataset's message.
    - ``compute_loss=True``: the decode head's losses on the predictions
      (:class:`~fcn_mm.engine.val_outputs.PredictionLoss`) are averaged over the
      images of all processes and returned with the metrics as ``decode.<loss_name>``
      and ``val_loss`` (their sum), so they are logged and ``EarlyStoppingHook`` or
      ``CheckpointHook(save_best='val_loss')`` can use them.
    - After each validation the per-class values of metrics that keep them
      (``IoUMetric``: ``IoU.<class>``, ``Acc.<class>``) go to the visualizer backends
      (TensorBoard, MLflow, ``vis_data/scalars.json``) at the current iteration.

    Args:
        runner (Runner): the runner.
        dataloader (DataLoader | dict): the validation DataLoader or its config.
        evaluator (Evaluator | dict | list): the metrics.
        fp16 (bool): validate under fp16 autocast. Defaults to False.
        compute_loss (bool): also compute the validation loss. Defaults to False.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict], evaluator,
                 fp16: bool = False, compute_loss: bool = False) -> None:
        if not isinstance(compute_loss, bool):
            raise TypeError(f'val_cfg.compute_loss must be True or False, got '
                            f'{compute_loss!r}')
        super().__init__(runner, dataloader, evaluator, fp16=fp16)
        self.prediction_loss = PredictionLoss(runner.model) if compute_loss else None

    def run(self) -> dict:
        """Validate once; send the per-class scalars; return the metrics."""
        metrics = super().run()
        scalars = per_class_scalars(self.evaluator.metrics)
        if scalars:
            loop = self.runner._train_loop
            step = 0 if loop is None or isinstance(loop, dict) else self.runner.iter
            self.runner.visualizer.add_scalars(scalars, step=step)
        return metrics

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        """One validation batch; with ``compute_loss``, record its loss too.

        Args:
            idx (int): the batch index.
            data_batch (Sequence[dict]): a batch from the DataLoader.
        """
        if self.prediction_loss is None:
            super().run_iter(idx, data_batch)
            return
        self.runner.call_hook('before_val_iter', batch_idx=idx, data_batch=data_batch)
        with autocast(enabled=self.fp16):
            outputs = self.runner.model.val_step(data_batch)
        for name, (total, count) in self.prediction_loss.batch_sums(outputs).items():
            self.val_loss.setdefault(name, HistoryBuffer()).update(float(total),
                                                                   int(count))
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook('after_val_iter', batch_idx=idx, data_batch=data_batch,
                              outputs=outputs)


@LOOPS.register_module(name='TestLoop')
class SegTestLoop(_CleanWorkerErrors, MMEngineTestLoop):
    """mmengine's TestLoop (type name ``TestLoop``); worker errors keep their message."""
