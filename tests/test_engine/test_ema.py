"""mmengine's EMAHook with fcn_mm's CheckpointHook: atomic saves, exact resume, and the
EMA weights in validation and in the saved checkpoint (what tools/test.py loads)."""
import os.path as osp

import pytest
import torch
from mmengine.hooks import EMAHook, Hook
from mmengine.registry import HOOKS as ROOT_HOOKS

import _reliability_toy as toy
from fcn_mm.utils.safe_loading import load_checkpoint_file

MAX_ITERS = 8
TOL = 1e-6


@ROOT_HOOKS.register_module(name='EmaProbeHook', force=True)
class EmaProbeHook(Hook):
    """Record the EMA weights after each step and the weights validation runs with."""

    priority = 'LOWEST'

    def __init__(self):
        self.ema_after_step, self.validated_with = {}, {}

    def _ema(self, runner):
        return next(h for h in runner.hooks if isinstance(h, EMAHook))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        module = self._ema(runner).ema_model.module
        self.ema_after_step[runner.iter + 1] = {
            k: v.detach().clone() for k, v in module.state_dict().items()}

    def before_val_iter(self, runner, batch_idx, data_batch=None):
        if batch_idx == 0:
            self.validated_with[runner.iter] = {
                k: v.detach().clone() for k, v in runner.model.state_dict().items()}


def _cfg(work_dir, data_root, **kwargs):
    cfg = toy.make_cfg(work_dir, data_root, max_iters=MAX_ITERS, interval=4, **kwargs)
    cfg['custom_hooks'] += [dict(type='EMAHook', momentum=0.3, priority='NORMAL'),
                            dict(type='EmaProbeHook')]
    val = toy.dataset_cfg(data_root, test_mode=True)
    cfg.update(
        val_dataloader=dict(batch_size=1, num_workers=0,
                            sampler=dict(type='DefaultSampler', shuffle=False),
                            dataset=val),
        val_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
        val_cfg=dict(type='ValLoop'))
    cfg['train_cfg']['val_interval'] = 4
    return cfg


def _hook(runner, kind):
    return next(h for h in runner.hooks if isinstance(h, kind))


def _ema_weights(runner):
    return {k: v.detach().clone()
            for k, v in _hook(runner, EMAHook).ema_model.module.state_dict().items()}


def _max_diff(a, b):
    assert set(a) == set(b)
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return toy.make_voc(str(tmp_path_factory.mktemp('voc')))


@pytest.fixture(scope='module')
def straight(data_root, tmp_path_factory, one_thread_module):
    work_dir = str(tmp_path_factory.mktemp('ema_straight'))
    runner = toy.build_runner(_cfg(work_dir, data_root, name='ema_ref'))
    runner.train()
    return runner, work_dir


@pytest.fixture(scope='module')
def one_thread_module():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_resumed_run_has_the_straight_runs_ema_weights(straight, data_root, tmp_path):
    reference, _ = straight
    work_dir = str(tmp_path)
    first = toy.build_runner(_cfg(work_dir, data_root, name='ema_stop', stop_at=4))
    first.train()
    assert first.iter == 4 and osp.isfile(osp.join(work_dir, 'iter_4.pth'))
    second = toy.build_runner(_cfg(work_dir, data_root, name='ema_resume', resume=True))
    second.train()
    assert second.iter == MAX_ITERS
    assert _max_diff(_ema_weights(second), _ema_weights(reference)) <= TOL
    assert _max_diff(toy.final_weights(second), toy.final_weights(reference)) <= TOL
    # the EMA really averages: it is not the trained weights
    assert _max_diff(_ema_weights(reference), toy.final_weights(reference)) > 1e-3


def test_validation_runs_with_the_ema_weights(straight):
    runner, _ = straight
    probe = _hook(runner, EmaProbeHook)
    assert sorted(probe.validated_with) == [4, 8]
    for step, weights in probe.validated_with.items():
        ema = probe.ema_after_step[step]
        params = [k for k, _ in runner.model.named_parameters()]
        assert _max_diff({k: weights[k] for k in params}, {k: ema[k] for k in params}) \
            <= TOL
    # after validation the training weights are back in the model
    assert _max_diff(toy.final_weights(runner), _ema_weights(runner)) > 1e-3


def test_saved_checkpoint_holds_the_ema_weights_and_loads_safely(straight):
    runner, work_dir = straight
    ckpt = load_checkpoint_file(osp.join(work_dir, f'iter_{MAX_ITERS}.pth'))  # weights_only
    ema = _ema_weights(runner)
    state = {k: v for k, v in ckpt['state_dict'].items()}
    assert _max_diff(state, ema) <= TOL  # what tools/test.py and init_model load
    trained = {k[len('module.'):]: v for k, v in ckpt['ema_state_dict'].items()
               if k.startswith('module.')}
    assert _max_diff(trained, toy.final_weights(runner)) <= TOL
    assert int(ckpt['ema_state_dict']['steps']) == MAX_ITERS
