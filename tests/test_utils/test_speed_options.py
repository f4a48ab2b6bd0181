"""Speed options (channels_last, bf16/fp16 autocast, torch.compile) keep predictions."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from fcn_mm.utils.speed_options import (apply_speed_options, autocast_dtype, inference_autocast,
                                     speed_options_from_cfg)
from fcn_mm.registry import MODELS
from fcn_mm.utils.device import cpu_supports_bf16

NARROW = osp.join(osp.dirname(__file__), '..', 'data', 'mmseg_reference', 'fcn_r50-d8_narrow')
BASE_MODEL = osp.join(osp.dirname(__file__), '..', '..', 'configs', '_base_', 'models',
                      'fcn_r50-d8.py')


@pytest.fixture(scope='module')
def narrow_model_and_input():
    """MMSeg's narrow FCN-R50-D8 reference (random weights and BN stats) and its image
    (tests/data/mmseg_reference: a missing file fails, it does not skip)."""
    model = Config.fromfile(BASE_MODEL).model.to_dict()
    model['pretrained'] = None
    for key in ('backbone', 'decode_head', 'auxiliary_head'):
        model[key]['norm_cfg'] = dict(type='BN', requires_grad=True)
    model['decode_head']['num_classes'] = model['auxiliary_head']['num_classes'] = 21
    model['backbone'].update(stem_channels=8, base_channels=8)
    model['decode_head'].update(in_channels=256, channels=32)
    model['auxiliary_head'].update(in_channels=128, channels=16)
    net = MODELS.build(model)
    ckpt = torch.load(osp.join(NARROW, 'checkpoint.pth'), map_location='cpu',
                      weights_only=True)
    net.load_state_dict(ckpt['state_dict'], strict=True)
    return net.eval(), torch.from_numpy(np.load(osp.join(NARROW, 'input.npy')))


def _predict(model, inputs, amp=False):
    # amp: bf16 forced (these tests check bf16's numerics, not the speed decision)
    with torch.no_grad(), inference_autocast('cpu', amp, 'bfloat16' if amp else None):
        sample = model.predict(inputs)[0]
    return sample.seg_logits.data.float(), sample.pred_sem_seg.data


def test_channels_last_gives_the_same_predictions_and_keys(narrow_model_and_input):
    model, inputs = narrow_model_and_input
    logits, pred = _predict(model, inputs)
    fast = apply_speed_options(copy.deepcopy(model), channels_last=True)
    assert list(fast.state_dict()) == list(model.state_dict())
    conv_weight = fast.backbone.stem[0].weight
    assert conv_weight.is_contiguous(memory_format=torch.channels_last)
    assert not conv_weight.is_contiguous()
    fast_logits, fast_pred = _predict(fast, inputs)
    # same maths in another memory order: float32 rounding differences only
    assert (fast_logits - logits).abs().max() <= 1e-4 * logits.abs().max()
    assert torch.equal(fast_pred, pred)


def test_channels_last_hook_converts_inputs_once(tiny_model):
    seen = []
    tiny_model.backbone.stem[0].register_forward_pre_hook(
        lambda m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    apply_speed_options(tiny_model, channels_last=True)
    apply_speed_options(tiny_model, channels_last=True)
    assert len(tiny_model.backbone._forward_pre_hooks) == 1
    with torch.no_grad():
        tiny_model(torch.randn(1, 3, 32, 32), mode='tensor')
    assert seen == [True]


@pytest.mark.skipif(not cpu_supports_bf16(), reason='this CPU has no native bf16')
@pytest.mark.parametrize('channels_last', [False, True])
def test_bf16_autocast_agrees_with_fp32(narrow_model_and_input, channels_last):
    """Tolerance: the reference net has random weights, so many pixels are near ties.

    bf16 keeps 8 bits of mantissa: the logits may move by ~1% of their range, which
    flips only pixels whose two best classes are that close. We require >= 97% of
    all pixels to agree, every pixel whose fp32 top-2 margin exceeds 2% of the
    logit range to agree, and the logit error to stay within 3% of that range.
    """
    model, inputs = narrow_model_and_input
    logits, pred = _predict(model, inputs)
    fast = apply_speed_options(copy.deepcopy(model), channels_last=channels_last)
    with torch.no_grad(), inference_autocast('cpu', dtype='bfloat16'):
        assert fast(inputs, mode='tensor').dtype == torch.bfloat16
    fast_logits, fast_pred = _predict(fast, inputs, amp=True)
    value_range = (logits.max() - logits.min()).item()
    assert (fast_logits - logits).abs().max().item() <= 0.03 * value_range
    assert (fast_pred == pred).float().mean().item() >= 0.97
    top2 = logits.topk(2, dim=0).values
    decisive = (top2[0] - top2[1]) > 0.02 * value_range
    assert decisive.float().mean() > 0.5
    assert torch.equal(fast_pred[0][decisive], pred[0][decisive])


def test_compile_in_place_keeps_keys_and_outputs(tiny_model):
    """The compile wiring with dynamo's ``eager`` backend (graph capture, no codegen)."""
    inputs = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected = tiny_model(inputs, mode='tensor')
    keys = list(tiny_model.state_dict())
    apply_speed_options(tiny_model, compile=dict(backend='eager'))
    assert list(tiny_model.state_dict()) == keys
    for name in ('backbone', 'decode_head', 'auxiliary_head'):
        assert getattr(tiny_model, name)._compiled_call_impl is not None
    with torch.no_grad():
        assert torch.allclose(tiny_model(inputs, mode='tensor'), expected, atol=1e-6)


@pytest.mark.slow  # inductor compiles C++ for ~1 min on 2 cores (cold cache)
def test_inductor_compile_agrees_with_eager(tiny_model):
    inputs = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        expected = tiny_model(inputs, mode='tensor')
        apply_speed_options(tiny_model, compile=True)
        assert torch.allclose(tiny_model(inputs, mode='tensor'), expected, atol=1e-4)


def _simulate_probe(monkeypatch, tmp_path, ratio, native=True):
    """The bf16 probe answers ``ratio`` (its measurement is replaced, not the decision)."""
    from fcn_mm.utils import bf16_probe, device, speed_options
    monkeypatch.setenv('FCN_MM_AMP_PROBE_CACHE', str(tmp_path / 'amp_probe.json'))
    monkeypatch.setattr(bf16_probe, '_MEMO', {})
    monkeypatch.setattr(speed_options, '_LOGGED_REASONS', set())
    monkeypatch.setattr(device, 'cpu_supports_bf16', lambda: native)
    calls = []

    def measure(training, **kwargs):
        calls.append(training)
        return dict(fp32_s=0.01 * ratio, bf16_s=0.01, ratio=ratio)

    monkeypatch.setattr(bf16_probe, 'measure_bf16_speedup', measure)
    return calls


def test_autocast_dtype_and_disabled_context():
    assert autocast_dtype('cpu', enabled=False) == torch.float32
    with inference_autocast('cpu', enabled=False):
        assert not torch.is_autocast_enabled('cpu')


@pytest.mark.parametrize('ratio,expected', [(0.7, torch.float32), (1.14, torch.float32),
                                            (1.16, torch.bfloat16), (2.0, torch.bfloat16)])
def test_inference_amp_follows_the_measured_speedup(monkeypatch, tmp_path, ratio, expected):
    calls = _simulate_probe(monkeypatch, tmp_path, ratio)
    assert autocast_dtype('cpu') == expected
    with inference_autocast('cpu'):
        assert torch.is_autocast_enabled('cpu') == (expected == torch.bfloat16)
    assert calls == [False]  # the inference probe, once per process


def test_slow_bf16_inference_says_why_in_one_line_and_can_be_forced(monkeypatch, tmp_path):
    from mmengine.logging import MMLogger
    _simulate_probe(monkeypatch, tmp_path, 0.7)
    lines = []
    handler = __import__('logging').Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        for _ in range(3):
            with inference_autocast('cpu'):
                assert not torch.is_autocast_enabled('cpu')
    finally:
        logger.removeHandler(handler)
    reasons = [line for line in lines if line.startswith('speed.amp:')]
    assert len(reasons) == 1 and '\n' not in reasons[0]
    assert '0.70x' in reasons[0] and "speed.amp_dtype='bfloat16'" in reasons[0]
    # the forcing key: bf16 without asking the probe
    opts = speed_options_from_cfg(Config(dict(speed=dict(amp=True, amp_dtype='bfloat16'))))
    assert autocast_dtype('cpu', opts.amp, opts.amp_dtype) == torch.bfloat16
    with inference_autocast('cpu', opts.amp, opts.amp_dtype):
        assert torch.get_autocast_dtype('cpu') == torch.bfloat16
    with pytest.raises(ValueError, match="speed.amp_dtype must be None .* got 'fp8'"):
        speed_options_from_cfg(Config(dict(speed=dict(amp=True, amp_dtype='fp8'))))


def test_cpu_without_native_bf16_stays_float32_without_probing(monkeypatch, tmp_path):
    calls = _simulate_probe(monkeypatch, tmp_path, 3.0, native=False)
    assert autocast_dtype('cpu') == torch.float32 and calls == []


def test_speed_options_from_config_and_overrides():
    cfg = Config(dict(speed=dict(channels_last=True, compile=dict(mode='max-autotune'))))
    opts = speed_options_from_cfg(cfg, amp=True, channels_last=None)
    assert opts.channels_last and opts.amp and opts.compile == dict(mode='max-autotune')
    assert speed_options_from_cfg(Config(dict())).channels_last is False
    with pytest.raises(KeyError, match="unknown speed key 'chanels_last'"):
        speed_options_from_cfg(Config(dict(speed=dict(chanels_last=True))))
    with pytest.raises(TypeError, match='speed.amp must be True or False'):
        speed_options_from_cfg(Config(dict(speed=dict(amp='yes'))))
    with pytest.raises(TypeError, match='speed.compile must be a bool or a dict'):
        speed_options_from_cfg(Config(dict(speed=dict(compile='max'))))
