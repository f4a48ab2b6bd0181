"""ResNet / ResNetV1c / ResNetV1d: shapes, dilations, freezing, init config, errors."""
import doctest

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from fcn_mm.models.backbones import resnet as resnet_module
from fcn_mm.models.backbones.resnet import ResNet, ResNetV1c, ResNetV1d
from fcn_mm.registry import MODELS

D8 = dict(dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), contract_dilation=True)


def test_r50_v1c_d8_full_size_shapes_on_meta_device():
    with torch.device('meta'):
        net = ResNetV1c(depth=50, **D8)
        outs = net(torch.empty(1, 3, 480, 480))
    assert [tuple(o.shape) for o in outs] == [
        (1, 256, 120, 120), (1, 512, 60, 60), (1, 1024, 60, 60), (1, 2048, 60, 60)]
    assert net.out_channels == (256, 512, 1024, 2048)


def test_deep_stem_channels_and_strides():
    net = ResNetV1c(depth=50, stem_channels=16, base_channels=4, **D8)
    convs = [net.stem[i] for i in (0, 3, 6)]
    assert [(c.in_channels, c.out_channels, c.stride) for c in convs] == [
        (3, 8, (2, 2)), (8, 8, (1, 1)), (8, 16, (1, 1))]
    assert isinstance(net.maxpool, torch.nn.MaxPool2d)
    assert not hasattr(net, 'conv1')


def test_contract_dilation_first_blocks_of_stages_3_and_4():
    net = ResNetV1c(depth=50, stem_channels=8, base_channels=4, **D8)
    conv2 = lambda layer, i: getattr(net, layer)[i].conv2  # noqa: E731
    assert (conv2('layer3', 0).dilation, conv2('layer3', 0).padding) == ((1, 1), (1, 1))
    assert (conv2('layer3', 1).dilation, conv2('layer3', 1).padding) == ((2, 2), (2, 2))
    assert (conv2('layer4', 0).dilation, conv2('layer4', 0).padding) == ((2, 2), (2, 2))
    assert (conv2('layer4', 2).dilation, conv2('layer4', 2).padding) == ((4, 4), (4, 4))
    assert conv2('layer2', 0).stride == (2, 2) and conv2('layer3', 0).stride == (1, 1)


def test_without_contract_dilation_first_block_keeps_the_stage_dilation():
    net = ResNetV1c(depth=50, stem_channels=8, base_channels=4,
                    dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1))
    assert net.layer3[0].conv2.dilation == (2, 2)
    assert net.layer4[0].conv2.dilation == (4, 4)


def test_basic_block_dilation_on_conv1_and_real_forward():
    net = ResNetV1c(depth=18, stem_channels=8, base_channels=4, **D8).eval()
    assert net.layer3[0].conv1.dilation == (1, 1) and net.layer4[0].conv1.dilation == (2, 2)
    assert net.layer4[1].conv1.dilation == (4, 4) and net.layer4[1].conv2.dilation == (1, 1)
    with torch.no_grad():
        outs = net(torch.rand(2, 3, 33, 47))
    assert [tuple(o.shape) for o in outs] == [
        (2, 4, 9, 12), (2, 8, 5, 6), (2, 16, 5, 6), (2, 32, 5, 6)]


def test_multi_grid_sets_the_last_stage_dilations():
    net = ResNetV1c(depth=50, stem_channels=8, base_channels=4, multi_grid=(1, 2, 4), **D8)
    assert [b.conv2.dilation[0] for b in net.layer4] == [1, 2, 4]
    with pytest.raises(ValueError, match='multi_grid'):
        ResNetV1c(depth=50, stem_channels=8, base_channels=4, multi_grid=(1, 2), **D8)


def test_style_caffe_puts_the_stride_on_the_first_1x1_conv():
    pt = ResNet(depth=50, stem_channels=8, base_channels=4)
    caffe = ResNet(depth=50, stem_channels=8, base_channels=4, style='caffe')
    assert (pt.layer2[0].conv1.stride, pt.layer2[0].conv2.stride) == ((1, 1), (2, 2))
    assert (caffe.layer2[0].conv1.stride, caffe.layer2[0].conv2.stride) == ((2, 2), (1, 1))
    assert pt.conv1.kernel_size == (7, 7) and pt.bn1 is pt.norm1


def test_v1d_avg_down_in_the_identity_branch():
    net = ResNetV1d(depth=50, stem_channels=8, base_channels=4)
    down = net.layer2[0].downsample
    assert isinstance(down[0], torch.nn.AvgPool2d) and down[0].stride == 2
    assert down[1].stride == (1, 1)
    assert 'layer1.0.downsample.1.weight' in net.state_dict()


def test_norm_eval_keeps_batchnorm_in_eval_mode():
    net = ResNetV1c(depth=18, stem_channels=8, base_channels=4, norm_eval=True).train()
    bns = [m for m in net.modules() if isinstance(m, _BatchNorm)]
    assert bns and not any(m.training for m in bns)
    assert net.layer1[0].conv1.training


def test_frozen_stages_stop_gradients_and_bn_updates():
    net = ResNetV1c(depth=18, stem_channels=8, base_channels=4, frozen_stages=1).train()
    for module in (net.stem, net.layer1):
        assert not any(p.requires_grad for p in module.parameters())
        assert not any(m.training for m in module.modules() if isinstance(m, _BatchNorm))
    assert all(p.requires_grad for p in net.layer2.parameters())
    assert net.layer2[0].bn1.training


def test_with_cp_matches_plain_forward_and_gradients():
    torch.manual_seed(0)
    plain = ResNetV1c(depth=18, stem_channels=8, base_channels=4, **D8)
    cp_net = ResNetV1c(depth=18, stem_channels=8, base_channels=4, with_cp=True, **D8)
    cp_net.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 32, 32)
    outs = [net(x)[-1].sum() for net in (plain, cp_net)]
    for out in outs:
        out.backward()
    torch.testing.assert_close(outs[0], outs[1])
    torch.testing.assert_close(plain.stem[0].weight.grad, cp_net.stem[0].weight.grad)


def test_pretrained_becomes_init_cfg_and_default_init_zeroes_last_norm():
    net = MODELS.build(dict(type='ResNetV1c', depth=18, pretrained='open-mmlab://resnet18_v1c'))
    assert net.init_cfg == dict(type='Pretrained', checkpoint='open-mmlab://resnet18_v1c')
    fresh = ResNetV1c(depth=50, stem_channels=8, base_channels=4)
    fresh.init_weights()
    assert torch.count_nonzero(fresh.layer1[0].bn3.weight) == 0
    assert torch.all(fresh.layer1[0].bn1.weight == 1)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(KeyError, match='depth=42'):
        ResNet(depth=42)
    with pytest.raises(ValueError, match='pretrained and backbone.init_cfg'):
        ResNet(depth=18, pretrained='x.pth', init_cfg=dict(type='Kaiming'))
    with pytest.raises(ValueError, match='strides'):
        ResNet(depth=18, strides=(1, 2))
    with pytest.raises(ValueError, match='out_indices'):
        ResNet(depth=18, out_indices=(4,))
    with pytest.raises(ValueError, match='style'):
        ResNet(depth=18, style='tf')


def test_docstring_example_runs():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(ResNet, 'ResNet', module=resnet_module)
    assert tests and any(t.examples for t in tests)
    for test in tests:
        runner.run(test)
    assert runner.failures == 0
