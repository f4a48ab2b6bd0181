"""PreemptionHook in-process on the reliability toy: a stop signal during validation,
at the last iteration, and the hook's settings."""
import os
import os.path as osp
import signal

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS as ROOT_HOOKS

import _reliability_toy as toy
from fcn_mm.engine.hooks import PreemptionHook
from fcn_mm.utils.checkpoint_files import is_complete_checkpoint
from fcn_mm.utils.safe_loading import load_checkpoint_file
from fcn_mm.utils.stop_signals import PREEMPTED_EXIT_CODE

MAX_ITERS = 8
VAL_INTERVAL = 4


@ROOT_HOOKS.register_module(name='SignalSelfHook', force=True)
class SignalSelfHook(Hook):
    """Send this process ``signum`` at the start of a validation or of an iteration."""

    priority = 'VERY_HIGH'

    def __init__(self, signum: int, at_val: bool = False, at_iter: int = 0) -> None:
        self.signum, self.at_val, self.at_iter = signum, at_val, at_iter

    def before_val_epoch(self, runner) -> None:
        if self.at_val:
            os.kill(os.getpid(), self.signum)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter + 1 == self.at_iter:
            os.kill(os.getpid(), self.signum)


def _cfg(work_dir, data_root, name, extra_hooks=(), resume=False, preemption=None):
    cfg = toy.make_cfg(work_dir, data_root, max_iters=MAX_ITERS, interval=1000,
                       max_keep_ckpts=-1, name=name, resume=resume)
    cfg['train_cfg']['val_interval'] = VAL_INTERVAL
    cfg.update(val_dataloader=dict(batch_size=1, num_workers=0,
                                   sampler=dict(type='DefaultSampler', shuffle=False),
                                   dataset=toy.dataset_cfg(data_root, test_mode=True)),
               val_cfg=dict(type='ValLoop'), val_evaluator=dict(type='IoUMetric'))
    cfg['custom_hooks'] += [preemption or dict(type='PreemptionHook')] + list(extra_hooks)
    return cfg


def _train(cfg):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner = toy.build_runner(cfg)
        runner.train()
    finally:
        torch.set_num_threads(threads)
    hook = next(h for h in runner.hooks if isinstance(h, PreemptionHook))
    return runner, hook


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return toy.make_voc(str(tmp_path_factory.mktemp('voc')))


def test_signal_during_validation_stops_after_it_with_that_iterations_checkpoint(
        data_root, tmp_path):
    straight, _ = _train(_cfg(str(tmp_path / 'straight'), data_root, 'straight'))
    work_dir = str(tmp_path / 'stopped')
    runner, hook = _train(_cfg(work_dir, data_root, 'val_stop', extra_hooks=[
        dict(type='SignalSelfHook', signum=int(signal.SIGUSR1), at_val=True)]))
    assert runner.iter == VAL_INTERVAL and hook.stopped_at == VAL_INTERVAL
    assert hook.exit_code == PREEMPTED_EXIT_CODE
    path = osp.join(work_dir, f'iter_{VAL_INTERVAL}.pth')
    assert hook.checkpoint == path and is_complete_checkpoint(path)
    ckpt = load_checkpoint_file(path)
    assert ckpt['meta']['iter'] == VAL_INTERVAL
    assert 'val/mIoU' in ckpt['message_hub']['log_scalars']  # the validation completed
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL  # handlers put back
    resumed, hook = _train(_cfg(work_dir, data_root, 'val_resume', resume=True))
    assert resumed.iter == MAX_ITERS and hook.exit_code == 0
    for key, value in toy.final_weights(straight).items():
        diff = (toy.final_weights(resumed)[key].double() - value.double()).abs().max()
        assert diff.item() <= 1e-6, key


def test_signal_in_the_last_iteration_ends_as_a_finished_run(data_root, tmp_path):
    runner, hook = _train(_cfg(str(tmp_path), data_root, 'last', extra_hooks=[
        dict(type='SignalSelfHook', signum=int(signal.SIGTERM), at_iter=MAX_ITERS)]))
    assert runner.iter == MAX_ITERS and hook.stopped_at is None and hook.exit_code == 0
    assert hook.catcher.received == ['SIGTERM']
    assert is_complete_checkpoint(osp.join(str(tmp_path), f'iter_{MAX_ITERS}.pth'))


def test_empty_signal_list_leaves_the_handlers_alone(data_root, tmp_path, monkeypatch):
    installed = []
    monkeypatch.setattr(signal, 'signal', lambda *a: installed.append(a))
    runner, hook = _train(_cfg(str(tmp_path), data_root, 'off',
                               preemption=dict(type='PreemptionHook', signals=[])))
    assert runner.iter == MAX_ITERS and installed == [] and hook.exit_code == 0


@pytest.mark.parametrize('kwargs,message', [
    (dict(interval=0), 'PreemptionHook.interval must be a positive integer, got 0'),
    (dict(signals=['SIGKILL']), 'SIGKILL cannot be caught'),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PreemptionHook(**kwargs)


ACCUMULATE = 3  # windows 1-3, 4-6, 7-8 (the last one shorter) in 8 iterations


def _accumulating(cfg):
    cfg['optim_wrapper']['accumulative_counts'] = ACCUMULATE
    return cfg


@pytest.fixture(scope='module')
def straight_accumulating(data_root, tmp_path_factory):
    cfg = _accumulating(_cfg(str(tmp_path_factory.mktemp('straight_acc')), data_root,
                             'straight_acc'))
    runner, _ = _train(cfg)
    return toy.final_weights(runner)


@pytest.mark.parametrize('where,signal_hook,stop_at', [
    # signal during iteration 2: the window 1-3 is finished first
    ('iteration', dict(at_iter=2), 3),
    # signal during the validation after iteration 4: the window 4-6 is finished first
    ('validation', dict(at_val=True), 6),
])
def test_stop_under_gradient_accumulation_waits_for_the_optimizer_step(
        data_root, tmp_path, straight_accumulating, where, signal_hook, stop_at):
    work_dir = str(tmp_path / 'stopped')
    runner, hook = _train(_accumulating(_cfg(work_dir, data_root, f'acc_{where}', extra_hooks=[
        dict(type='SignalSelfHook', signum=int(signal.SIGTERM), **signal_hook)])))
    assert runner.iter == stop_at and hook.stopped_at == stop_at
    assert hook.checkpoint == osp.join(work_dir, f'iter_{stop_at}.pth')
    assert load_checkpoint_file(hook.checkpoint)['meta']['iter'] == stop_at
    resumed, hook = _train(_accumulating(_cfg(work_dir, data_root, f'acc_{where}_resume',
                                              resume=True)))
    assert resumed.iter == MAX_ITERS and hook.exit_code == 0
    weights = toy.final_weights(resumed)
    for key, value in straight_accumulating.items():
        diff = (weights[key].double() - value.double()).abs().max()
        assert diff.item() <= 1e-6, key


@ROOT_HOOKS.register_module(name='RaiseAtIterHook', force=True)
class RaiseAtIterHook(Hook):
    """Raise ``RuntimeError`` before iteration ``at_iter`` (1-based)."""

    def __init__(self, at_iter: int) -> None:
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter + 1 == self.at_iter:
            raise RuntimeError(f'failure injected at iteration {self.at_iter}')


def test_a_training_that_raises_puts_the_signal_handlers_back(data_root, tmp_path):
    def original(signum, frame):
        received.append(signum)

    received = []
    previous = {sig: signal.signal(sig, original) for sig in (signal.SIGTERM, signal.SIGUSR1)}
    try:
        runner = toy.build_runner(_cfg(str(tmp_path), data_root, 'raises', extra_hooks=[
            dict(type='RaiseAtIterHook', at_iter=3)]))
        with pytest.raises(RuntimeError, match='failure injected at iteration 3'):
            runner.train()
        hook = next(h for h in runner.hooks if isinstance(h, PreemptionHook))
        assert not hook.catcher.installed and not hook.catcher.armed
        assert signal.getsignal(signal.SIGTERM) is original
        assert signal.getsignal(signal.SIGUSR1) is original
        os.kill(os.getpid(), signal.SIGTERM)  # reaches the original handler, with the
        assert received == [signal.SIGTERM]   # runner (and so the hook) still alive
        assert hook.catcher.received == []
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
