"""VGG backbone: stage shapes, Caffe names, torchvision weights (torchvision://vgg16)."""
import doctest
import logging
import os.path as osp

import pytest
import torch
import torchvision
from mmengine.logging import MMLogger
from torch import nn

from fcn_mm.models.backbones import VGG
from fcn_mm.models.backbones import vgg as vgg_module
from fcn_mm.models.backbones.vgg_torchvision_layout import (TORCHVISION_MEAN,
                                                            TORCHVISION_STD,
                                                            torchvision_feature_names)

CAFFE_MEAN = [104.00699, 116.66877, 122.67892]


def test_docstring_example_runs():
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for test in finder.find(vgg_module):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0


@pytest.mark.parametrize('depth, convs', [(11, 8), (13, 10), (16, 13), (19, 16)])
def test_depths_and_caffe_layer_names(depth, convs):
    net = VGG(depth=depth, base_channels=4, fc_channels=8)
    names = [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    assert len(names) == convs + 2 and names[0] == 'conv1_1' and names[-2:] == ['fc6', 'fc7']
    assert 'conv5_3' in names if depth >= 16 else 'conv5_3' not in names
    assert net.stage_channels == (4, 8, 16, 32, 32)


def test_stage_shapes_ceil_and_floor_mode_and_return_input():
    x = torch.randn(2, 3, 97, 131)
    net = VGG(base_channels=4, out_indices=(0, 1, 2, 3, 4, 5), fc_channels=8,
              fc6_padding=3, return_input=True).eval()
    with torch.no_grad():
        outs = net(x)
    assert outs[0] is x and net.out_channels == (3, 4, 8, 16, 32, 32, 8)
    assert [tuple(o.shape[2:]) for o in outs[1:]] == [(49, 66), (25, 33), (13, 17), (7, 9),
                                                      (4, 5), (4, 5)]
    floor = VGG(base_channels=4, out_indices=(4, ), ceil_mode=False).eval()
    with torch.no_grad():
        assert floor(x)[0].shape == (2, 32, 3, 4)


def test_caffe_padding_gives_the_paper_sizes():
    """conv1_1 pad 100, ceil pools, valid 7x7 fc6: 500x375 -> fc7 of 16x12."""
    net = VGG(base_channels=2, out_indices=(2, 3, 5), first_conv_padding=100,
              fc_channels=4).eval()
    with torch.no_grad():
        pool3, pool4, fc7 = net(torch.zeros(1, 3, 375, 500))
    assert pool3.shape[2:] == (72, 88) and pool4.shape[2:] == (36, 44)
    assert fc7.shape[2:] == (12, 16)


def test_out_indices_stop_early():
    net = VGG(base_channels=4, out_indices=(1, ), fc_channels=8)
    called = []
    net.conv3_1.register_forward_hook(lambda *args: called.append(1))
    assert net(torch.zeros(1, 3, 32, 32))[0].shape == (1, 8, 8, 8)
    assert not called


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(depth=15), KeyError, 'backbone.depth=15 is not a VGG depth'),
    (dict(out_indices=(5, )), ValueError, 'set fc_channels for the fc7 output'),
    (dict(out_indices=(3, 2)), ValueError, 'must be increasing'),
    (dict(num_stages=6), ValueError, 'backbone.num_stages must be 1..5'),
    (dict(input_norm_cfg=dict(mean=[1, 2, 3])), ValueError, 'input_norm_cfg must be'),
    (dict(pretrained='x.pth', init_cfg=dict(type='Kaiming')), ValueError, 'cannot both'),
    (dict(norm_cfg='BN'), TypeError, 'backbone.norm_cfg must be a dict'),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        VGG(**kwargs)


def test_norm_eval_keeps_bn_in_eval_mode():
    net = VGG(base_channels=4, norm_cfg=dict(type='BN'), norm_eval=True).train()
    assert not net.bn1_1.training and net.conv1_1.training


def _torchvision_vgg16(seed=0):
    torch.manual_seed(seed)
    reference = torchvision.models.vgg16()
    for module in reference.modules():  # default biases are 0: make them matter
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.uniform_(module.bias, -0.05, 0.05)
    return reference.eval()


class _Messages(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_torchvision_vgg16_loads_through_the_zoo_name(tmp_path, monkeypatch, no_network):
    """A torchvision-format vgg16 under torchvision://vgg16's file name: nothing missing,
    and fc7 equals torchvision's classifier activations for a 224x224 image."""
    reference = _torchvision_vgg16()
    file_name = osp.basename(torchvision.models.VGG16_Weights.IMAGENET1K_V1.url)
    (tmp_path / 'checkpoints').mkdir()
    torch.save(reference.state_dict(), tmp_path / 'checkpoints' / file_name)
    monkeypatch.setenv('FCN_MM_HOME', str(tmp_path))
    net = VGG(depth=16, out_indices=(5, ), fc_channels=4096, pretrained='torchvision://vgg16')
    messages = _Messages()
    logger = MMLogger.get_current_instance()
    logger.addHandler(messages)
    try:
        net.init_weights()
    finally:
        logger.removeHandler(messages)
    text = '\n'.join(messages.lines)
    assert 'renamed 30 weights of the torchvision layout' in text
    assert 'missing keys' not in text
    assert 'unexpected key in source state_dict: classifier.6.weight, classifier.6.bias' in text
    torch.testing.assert_close(net.conv5_3.weight, reference.features[28].weight, rtol=0, atol=0)
    torch.testing.assert_close(net.fc6.weight.flatten(1), reference.classifier[0].weight,
                               rtol=0, atol=0)
    x = torch.randn(1, 3, 224, 224)
    net.eval()
    with torch.no_grad():
        fc7 = net(x)[0]
        expected = reference.classifier[:5](torch.flatten(
            reference.avgpool(reference.features(x)), 1))
    assert fc7.shape == (1, 4096, 1, 1)
    torch.testing.assert_close(fc7.flatten(1), expected, rtol=1e-4, atol=1e-5)


def test_torchvision_vgg16_bn_features_load_with_no_missing_keys():
    torch.manual_seed(0)
    features = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs['D'],
                                                  batch_norm=True)
    for module in features.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
    state = {f'features.{k}': v for k, v in features.state_dict().items()}
    net = VGG(depth=16, out_indices=(4, ), norm_cfg=dict(type='BN'), ceil_mode=False)
    result = net.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torchvision_feature_names((2, 2, 3, 3, 3), True)[1] == 'bn1_1'
    net.eval(), features.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(net(x)[0], features(x), rtol=1e-4, atol=1e-5)


def test_fc_weights_of_another_shape_are_refused_by_name():
    state = {'classifier.0.weight': torch.zeros(4096, 25088),
             'classifier.0.bias': torch.zeros(4096)}
    net = VGG(base_channels=4, fc_channels=8, fc6_kernel_size=3)
    with pytest.raises(ValueError, match=r'classifier\.0\.weight of torchvision shape '
                                         r'\(4096, 25088\) cannot become fc6'):
        net.load_state_dict(state, strict=False)


def test_input_norm_cfg_adapts_conv1_1_to_caffe_inputs():
    """BGR minus the Caffe mean, unscaled, through the adapted conv1_1 == torchvision's
    conv on the same image normalised its way (wherever no padding is involved)."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 64, 3, padding=1)
    state = {'features.0.weight': conv.weight.data, 'features.0.bias': conv.bias.data}
    net = VGG(base_channels=64, num_stages=1, out_indices=(0, ),
              input_norm_cfg=dict(mean=CAFFE_MEAN, std=[1, 1, 1], bgr=True))
    net.load_state_dict(state, strict=False)
    image_rgb = torch.rand(1, 3, 20, 24) * 255
    mean_tv = torch.tensor(TORCHVISION_MEAN).view(1, 3, 1, 1)
    std_tv = torch.tensor(TORCHVISION_STD).view(1, 3, 1, 1)
    caffe_input = image_rgb.flip(1) - torch.tensor(CAFFE_MEAN).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = conv((image_rgb / 255 - mean_tv) / std_tv)
        got = net.conv1_1(caffe_input)
    torch.testing.assert_close(got[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1],
                               rtol=1e-4, atol=1e-4)
    # without input_norm_cfg the weights are taken as they are
    plain = VGG(base_channels=64, num_stages=1, out_indices=(0, ))
    plain.load_state_dict(state, strict=False)
    torch.testing.assert_close(plain.conv1_1.weight, conv.weight, rtol=0, atol=0)


def test_builds_on_the_meta_device():
    with torch.device('meta'):
        net = VGG(depth=16, out_indices=(2, 3, 5), fc_channels=4096, first_conv_padding=100)
    assert sum(p.numel() for p in net.parameters()) == 134_260_544
