"""A NaN loss stops training (naming iteration and loss terms) or is skipped and counted."""
import glob
import os.path as osp

import pytest
import torch
import torch.nn as nn

import _reliability_toy as toy
from fcn_mm.engine.optim_wrappers.optim_wrapper import NonFiniteLossError, OptimWrapper
from fcn_mm.utils.safe_loading import load_checkpoint_file


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return toy.make_voc(str(tmp_path_factory.mktemp('voc')), num=4)


def _params(path):
    state = load_checkpoint_file(path)['state_dict']
    return {k: v for k, v in state.items() if 'running' not in k and 'num_batches' not in k
            and k != 'train_steps'}


def test_nan_loss_stops_with_iteration_and_terms_and_no_checkpoint(data_root, tmp_path):
    runner = toy.build_runner(toy.make_cfg(str(tmp_path), data_root, max_iters=6,
                                           interval=1, max_keep_ckpts=-1, nan_at=3,
                                           name='nan_stop'))
    with pytest.raises(NonFiniteLossError,
                       match=r'iteration 3/6: loss=nan, decode\.loss_ce=nan, '
                             r'decode\.acc_seg=[\d.]+, aux\.loss_ce=[\d.]+.*skip_nonfinite'):
        runner.train()
    names = sorted(osp.basename(p) for p in glob.glob(str(tmp_path / 'iter_*.pth')))
    assert names == ['iter_1.pth', 'iter_2.pth']
    with open(tmp_path / 'last_checkpoint') as f:
        assert f.read().strip().endswith('iter_2.pth')
    # the NaN step was not applied either
    for value in runner.model.state_dict().values():
        assert torch.isfinite(value.float()).all()


def test_skip_nonfinite_skips_and_counts(data_root, tmp_path):
    runner = toy.build_runner(toy.make_cfg(str(tmp_path), data_root, max_iters=5,
                                           interval=1, max_keep_ckpts=-1, nan_at=3,
                                           skip_nonfinite=True, name='nan_skip'))
    runner.train()
    assert runner.iter == 5
    assert runner.message_hub.get_info('nonfinite_skips') == 1
    before, after = (_params(str(tmp_path / f'iter_{i}.pth')) for i in (2, 3))
    for key in before:  # the skipped step left the weights untouched
        assert torch.equal(before[key], after[key]), key
    assert not torch.equal(after['conv.weight'],
                           _params(str(tmp_path / 'iter_4.pth'))['conv.weight'])
    for value in runner.model.state_dict().values():
        assert torch.isfinite(value.float()).all()
    log = open(glob.glob(str(tmp_path / '*' / '*.log'))[0]).read()
    assert 'Iteration 3/5: non-finite loss (loss=nan' in log
    assert 'step skipped (1 skipped so far)' in log
    assert 'Iter(train) [5/5]' in log and 'nonfinite_skips: 1' in log
    rows = toy.read_losses(str(tmp_path / 'losses.jsonl'))
    assert [r['nonfinite_skips'] for r in rows] == [0, 0, 1, 1, 1]


def _wrapper(**kwargs):
    model = nn.Linear(2, 1)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), **kwargs)
    return model, wrapper


def test_wrapper_alone_raises_with_iteration():
    model, wrapper = _wrapper()
    wrapper.update_params(model(torch.ones(1, 2)).sum())
    weight = model.weight.detach().clone()
    with pytest.raises(NonFiniteLossError, match='loss inf at iteration 2'):
        wrapper.update_params(model(torch.ones(1, 2)).sum() * 0 + float('inf'))
    assert torch.equal(model.weight, weight)


def test_wrapper_skip_counts_and_keeps_weights():
    model, wrapper = _wrapper(skip_nonfinite=True)
    weight = model.weight.detach().clone()
    wrapper.update_params(model(torch.ones(1, 2)).sum() * float('nan'))
    assert wrapper.nonfinite_skips == 1 and wrapper.last_step_nonfinite
    assert torch.equal(model.weight, weight) and model.weight.grad is None
    wrapper.update_params(model(torch.ones(1, 2)).sum())
    assert not wrapper.last_step_nonfinite and not torch.equal(model.weight, weight)


def test_wrapper_rejects_non_bool_switch():
    with pytest.raises(TypeError, match='skip_nonfinite'):
        _wrapper(skip_nonfinite='yes')
