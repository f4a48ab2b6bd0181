"""FLOP counting against hand-computed counts, and get_flops.py."""
import pytest
import torch
from torch import nn

from fcn_mm.analysis.flops import (count_flops, count_params, get_model_complexity,
                                   tensor_path_flops)
from fcn_mm.models.builder import build_offline_model
from fcn_mm.utils.config_check import load_config

from perf_utils import R50_CONFIG, load_tool


def _conv_flops(cin, cout, k, hout, wout, batch=1):
    """2 FLOPs per multiply-add: each output pixel of each output channel is Cin*k*k MACs."""
    return 2 * batch * cin * cout * k * k * hout * wout


def _tiny_net():
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 16, 1, bias=False), nn.ReLU(),
                         nn.Conv2d(16, 4, 3, padding=2, dilation=2))


def test_count_flops_matches_hand_count_forward():
    x = torch.randn(2, 3, 32, 32)
    expected = (_conv_flops(3, 8, 3, 16, 16, 2) + _conv_flops(8, 16, 1, 16, 16, 2)
                + _conv_flops(16, 4, 3, 16, 16, 2))
    out, flops = count_flops(_tiny_net(), x)
    assert out.shape == (2, 4, 16, 16)
    assert flops == expected


def test_count_flops_matches_hand_count_backward():
    """Backward: grad of the weights for every conv, grad of the input for all but the
    first (the image needs none); each costs as much as the forward conv."""
    net, x = _tiny_net(), torch.randn(1, 3, 32, 32)
    fwd = [_conv_flops(3, 8, 3, 16, 16), _conv_flops(8, 16, 1, 16, 16),
           _conv_flops(16, 4, 3, 16, 16)]
    _, flops = count_flops(lambda: net(x).sum().backward())
    assert flops == sum(fwd) + sum(fwd) + sum(fwd[1:])


def test_count_params():
    net = _tiny_net()
    assert count_params(net) == 3 * 8 * 9 + 2 * 8 + 8 * 16 + 16 * 4 * 9 + 4
    assert count_params(None) == 0


def test_model_complexity_on_meta_equals_count_on_cpu(tiny_config):
    info = get_model_complexity(tiny_config, (64, 48))
    model = build_offline_model(load_config(tiny_config)).eval()
    assert info['params'] == sum(p.numel() for p in model.parameters())
    assert info['params_aux'] == sum(p.numel() for p in model.auxiliary_head.parameters())
    _, flops = count_flops(lambda: model(torch.randn(1, 3, 64, 48), mode='tensor'))
    assert info['flops'] == flops == tensor_path_flops(model, (64, 48))
    assert info['gmacs'] * 2 == pytest.approx(info['gflops'])
    with_aux = get_model_complexity(tiny_config, (64, 48), with_aux=True)
    aux_head = model.auxiliary_head
    # aux head: 3x3 conv 16 -> 4 (no bias) and 1x1 conv_seg 4 -> 21 at 1/8 size (8x6)
    aux_flops = _conv_flops(16, 4, 3, 8, 6) + _conv_flops(4, 21, 1, 8, 6)
    assert aux_head.convs[0].conv.weight.shape == (4, 16, 3, 3)
    assert with_aux['flops'] - info['flops'] == aux_flops
    assert with_aux['with_aux'] and not info['with_aux']


def test_fcn_r50_d8_flops_at_480(capsys):
    """The figure of the issue: 347 GFLOP for one 480x480 image, no aux head."""
    info = load_tool('get_flops').main([R50_CONFIG, '--shape', '480'])
    assert info['flops'] == 347_347_353_600
    assert info['params'] == 49_499_274
    out = capsys.readouterr().out
    assert 'parameters: 49,499,274' in out
    assert '347.35 GFLOPs' in out and '173.67 GMACs' in out
    assert 'auxiliary head(s) NOT counted' in out


def test_get_flops_prints_parameters_of_the_built_model(tiny_config, capsys):
    load_tool('get_flops').main([tiny_config, '--shape', '32', '40', '--with-aux'])
    out = capsys.readouterr().out
    model = build_offline_model(load_config(tiny_config))
    assert f'parameters: {sum(p.numel() for p in model.parameters()):,} ' in out
    assert 'input shape: (1, 3, 32, 40); auxiliary head(s) counted' in out


def test_get_model_complexity_rejects_bad_shape(tiny_config):
    with pytest.raises(ValueError, match=r'shape must be \(H, W\)'):
        get_model_complexity(tiny_config, (32, 0))
