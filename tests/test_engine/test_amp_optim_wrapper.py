"""fcn_mm's AmpOptimWrapper: autocast dtype, loss scaling, state round trip."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from fcn_mm.engine.optim_wrappers import enable_amp
from fcn_mm.registry import OPTIM_WRAPPERS


@pytest.fixture
def probe_says(monkeypatch, tmp_path):
    """Simulate the bf16 probe's answer (its measurement; the decision is real)."""
    from fcn_mm.utils import bf16_probe, device
    monkeypatch.setenv('FCN_MM_AMP_PROBE_CACHE', str(tmp_path / 'amp_probe.json'))
    monkeypatch.setattr(bf16_probe, '_MEMO', {})
    monkeypatch.setattr(device, 'cpu_supports_bf16', lambda: True)
    calls = []

    def answer(ratio):
        def measure(training, **kwargs):
            calls.append(training)
            return dict(fp32_s=0.01 * ratio, bf16_s=0.01, ratio=ratio)
        monkeypatch.setattr(bf16_probe, 'measure_bf16_speedup', measure)
        bf16_probe._MEMO.clear()
        calls.clear()
        return calls

    return answer


def _wrapper(**kwargs):
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    cfg = dict(type='AmpOptimWrapper', optimizer=optimizer, **kwargs)
    return model, OPTIM_WRAPPERS.build(cfg)


def test_registered_in_fcn_mm_scope():
    from fcn_mm.engine.optim_wrappers.amp_optim_wrapper import AmpOptimWrapper
    assert OPTIM_WRAPPERS.get('AmpOptimWrapper') is AmpOptimWrapper


def test_cpu_default_is_bf16_autocast_without_scaler_where_bf16_is_faster(probe_says):
    calls = probe_says(2.0)
    model, wrapper = _wrapper(device='cpu')
    assert calls == [True]  # the training probe
    assert wrapper.cast_dtype == torch.bfloat16 and wrapper.loss_scaler is None
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16
    assert model(torch.randn(2, 4)).dtype == torch.float32  # only inside the context


def test_cpu_training_step_updates_parameters_and_round_trips():
    model, wrapper = _wrapper(device='cpu', dtype='bfloat16',
                              loss_scale=512.0)  # ignored for bf16
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        loss = model(torch.randn(8, 4)).float().pow(2).mean()
    wrapper.update_params(loss)
    assert not torch.equal(before, model.weight)
    state = wrapper.state_dict()
    assert 'loss_scaler' not in state
    _, other = _wrapper(device='cpu', dtype='bfloat16')
    other.load_state_dict(state)
    momentum = wrapper.optimizer.state_dict()['state'][0]['momentum_buffer']
    assert torch.equal(other.optimizer.state_dict()['state'][0]['momentum_buffer'],
                       momentum)


@pytest.mark.parametrize('loss_scale,expected_scale', [
    ('dynamic', 65536.0), (128.0, 128.0), (dict(init_scale=32.0), 32.0)])
def test_fp16_uses_a_grad_scaler_and_its_state_round_trips(loss_scale, expected_scale):
    model, wrapper = _wrapper(device='cpu', dtype='float16', loss_scale=loss_scale)
    assert wrapper.loss_scaler is not None
    assert wrapper.loss_scaler.get_scale() == expected_scale
    reference = copy.deepcopy(model)
    grads = []
    model.weight.register_hook(lambda g: grads.append(g.clone()))
    x = torch.randn(8, 4)
    with wrapper.optim_context(model):
        loss = model(x).float().pow(2).mean()
    with torch.autocast('cpu', dtype=torch.float16):
        reference(x).float().pow(2).mean().backward()
    wrapper.update_params(loss)
    # backward saw the scaled loss: its gradient is scale x the unscaled one
    torch.testing.assert_close(grads[0].float(), reference.weight.grad * expected_scale,
                               rtol=1e-2, atol=1e-3)
    state = wrapper.state_dict()
    assert state['loss_scaler']['scale'] == pytest.approx(
        wrapper.loss_scaler.get_scale())
    _, other = _wrapper(device='cpu', dtype='float16')
    other.load_state_dict(dict(state))
    assert other.loss_scaler.get_scale() == wrapper.loss_scaler.get_scale()


def test_static_loss_scale_stays_fixed():
    model, wrapper = _wrapper(device='cpu', dtype='float16', loss_scale=64.0)
    for _ in range(3):
        with wrapper.optim_context(model):
            loss = model(torch.randn(8, 4)).float().pow(2).mean()
        wrapper.update_params(loss)
    assert wrapper.loss_scaler.get_scale() == 64.0


def test_scaler_state_from_a_cuda_run_is_dropped_on_bf16():
    _, fp16 = _wrapper(device='cpu', dtype='float16')
    _, bf16 = _wrapper(device='cpu', dtype='bfloat16')
    bf16.load_state_dict(fp16.state_dict())  # no error: the scaler state is dropped


@pytest.mark.parametrize('loss_scale,error,match', [
    ('static', ValueError, 'loss_scale'), ([1.0], TypeError, 'loss_scale'),
    (True, TypeError, 'loss_scale')])
def test_bad_loss_scale_names_the_key(loss_scale, error, match):
    with pytest.raises(error, match=match):
        _wrapper(device='cpu', loss_scale=loss_scale)


def test_bad_dtype_names_the_key():
    with pytest.raises(ValueError, match='optim_wrapper.dtype'):
        _wrapper(device='cpu', dtype='int8')


def test_amp_switches_the_optim_wrapper_and_drops_loss_scale_on_cpu():
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', loss_scale=512.0,
                                         optimizer=dict(type='SGD', lr=0.01))))
    enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper  # this machine has no CUDA
    with pytest.raises(KeyError, match='--amp needs an `optim_wrapper`'):
        enable_amp(Config(dict()))


def test_summary_names_the_dtype_device_and_scaling():
    from fcn_mm.engine.optim_wrappers import AmpOptimWrapper, amp_summary
    model = nn.Linear(2, 2)
    bf16 = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                           dtype='bfloat16')
    assert amp_summary(bf16) == 'bfloat16 autocast on cpu, no loss scaling'
    fp16 = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                           dtype='float16', accumulative_counts=4)
    assert amp_summary(fp16) == ('float16 autocast on cpu, dynamic loss scaling (initial '
                                 'scale 65536), gradients accumulated over 4 iterations')
    static = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                             dtype='float16', loss_scale=512.0)
    assert amp_summary(static) == 'float16 autocast on cpu, static loss scale 512'
    fp32 = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                           dtype='float32')
    assert amp_summary(fp32) == 'float32 without autocast on cpu, no loss scaling'


def _log_lines():
    import logging
    from mmengine.logging import MMLogger
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    MMLogger.get_current_instance().addHandler(handler)
    return lines, lambda: MMLogger.get_current_instance().removeHandler(handler)


def test_slow_bf16_trains_in_float32_and_says_why_in_one_line(probe_says):
    calls = probe_says(0.8)
    lines, stop = _log_lines()
    try:
        model, wrapper = _wrapper(device='cpu')
    finally:
        stop()
    with wrapper.optim_context(model):
        assert model(torch.randn(2, 4)).dtype == torch.float32
    assert wrapper.cast_dtype == torch.float32 and not wrapper.autocast_enabled
    assert wrapper.loss_scaler is None and calls == [True]
    amp_lines = [line for line in lines if line.startswith('AMP')]
    assert len(amp_lines) == 1 and '\n' not in amp_lines[0]
    assert '0.80x' in amp_lines[0] and 'below the 1.15x margin' in amp_lines[0]
    assert "force bf16 with optim_wrapper.dtype='bfloat16'" in amp_lines[0]


def test_dtype_bfloat16_forces_bf16_without_probing(probe_says):
    calls = probe_says(0.5)
    model, wrapper = _wrapper(device='cpu', dtype='bfloat16')
    with wrapper.optim_context(model):
        assert model(torch.randn(2, 4)).dtype == torch.bfloat16
    assert calls == []


@pytest.mark.parametrize('ratio', [0.8, 2.0])
def test_native_bf16_only_is_the_machine_decision(probe_says, ratio):
    probe_says(ratio)
    model, wrapper = _wrapper(device='cpu', native_bf16_only=True)
    expected = torch.bfloat16 if ratio >= 1.15 else torch.float32
    with wrapper.optim_context(model):
        assert model(torch.randn(2, 4)).dtype == expected
    # native_bf16_only=False: bf16 without the probe, as before
    calls = probe_says(0.8)
    model, wrapper = _wrapper(device='cpu', native_bf16_only=False)
    assert wrapper.cast_dtype == torch.bfloat16 and calls == []


def test_no_native_bf16_trains_in_float32(probe_says, monkeypatch):
    from fcn_mm.utils import device
    calls = probe_says(3.0)
    monkeypatch.setattr(device, 'cpu_supports_bf16', lambda: False)
    _, wrapper = _wrapper(device='cpu', native_bf16_only=True)
    assert wrapper.cast_dtype == torch.float32 and calls == []


def test_native_bf16_only_must_be_a_bool():
    with pytest.raises(TypeError, match='optim_wrapper.native_bf16_only must be True, False '
                       "or None, got 'yes'"):
        _wrapper(device='cpu', native_bf16_only='yes')


def test_float32_dtype_trains_without_autocast(recwarn):
    model, wrapper = _wrapper(device='cpu', dtype='float32')
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 4))
    assert out.dtype == torch.float32 and wrapper.cast_dtype == torch.float32
    assert wrapper.loss_scaler is None and not wrapper.autocast_enabled
    assert not [w for w in recwarn if 'autocast' in str(w.message).lower()]
