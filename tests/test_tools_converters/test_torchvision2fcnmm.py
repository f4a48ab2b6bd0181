"""tools/model_converters/torchvision2fcnmm.py: key mapping, CLI, equal features."""
import importlib.util
import os.path as osp

import pytest
import torch
import torchvision
from mmengine.runner import load_checkpoint

from fcn_mm.registry import MODELS

_TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'model_converters',
                 'torchvision2fcnmm.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('torchvision2fcnmm', _TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pytestmark = pytest.mark.usefixtures('one_thread')


def test_key_mapping_keeps_backbone_names_and_drops_fc():
    tool = _load_tool()
    assert tool.torchvision_to_fcnmm_key('layer1.0.downsample.1.running_var') == \
        'layer1.0.downsample.1.running_var'
    assert tool.torchvision_to_fcnmm_key('bn1.num_batches_tracked') == 'bn1.num_batches_tracked'
    assert tool.torchvision_to_fcnmm_key('fc.weight') is None
    with pytest.raises(KeyError, match='features.0.0.weight'):
        tool.torchvision_to_fcnmm_key('features.0.0.weight')


def test_convert_rejects_non_resnet_state_dict():
    tool = _load_tool()
    state = torchvision.models.mobilenet_v3_small().state_dict()
    with pytest.raises(KeyError, match='not torchvision ResNet keys'):
        tool.convert_torchvision_resnet(state)


def test_converted_resnet50_gives_equal_features(tmp_path, no_network):
    """Random torchvision R50 file -> TorchvisionBackbone, and -> converter -> ResNet: equal."""
    tool = _load_tool()
    torch.manual_seed(0)
    reference = torchvision.models.resnet50()
    for module in reference.modules():  # non-trivial BN statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    reference.eval()
    src, dst = tmp_path / 'resnet50-tv.pth', tmp_path / 'resnet50-fcnmm.pth'
    torch.save(reference.state_dict(), src)
    tool.main([str(src), str(dst)])
    saved = torch.load(dst, weights_only=True)
    assert set(saved) == {'meta', 'state_dict'}
    assert not any(k.startswith('fc.') for k in saved['state_dict'])

    x = torch.randn(1, 3, 64, 64)
    for output_stride, strides, dilations in [(32, (1, 2, 2, 2), (1, 1, 1, 1)),
                                              (8, (1, 2, 1, 1), (1, 1, 2, 4))]:
        tv = MODELS.build(dict(type='TorchvisionBackbone', model_name='resnet50',
                               weights=str(src), output_stride=output_stride,
                               out_indices=(3, ))).eval()
        ours = MODELS.build(dict(type='ResNet', depth=50, deep_stem=False, strides=strides,
                                 dilations=dilations, contract_dilation=True,
                                 out_indices=(3, )))
        load_checkpoint(ours, str(dst), map_location='cpu', strict=True)
        ours.eval()
        with torch.no_grad():
            expected = reference.layer4(reference.layer3(reference.layer2(reference.layer1(
                reference.maxpool(reference.relu(reference.bn1(reference.conv1(x))))))))
            got_tv, got_ours = tv(x)[-1], ours(x)[-1]
        assert got_ours.shape == (1, 2048, 64 // output_stride, 64 // output_stride)
        assert (got_tv - got_ours).abs().max() < 1e-5
        if output_stride == 32:
            assert (got_tv - expected).abs().max() < 1e-5


def test_cli_plain_and_missing_source(tmp_path):
    tool = _load_tool()
    src = tmp_path / 'r18.pth'
    torch.save({'state_dict': torchvision.models.resnet18().state_dict()}, src)
    tool.main([str(src), str(tmp_path / 'out.pth'), '--plain'])
    plain = torch.load(tmp_path / 'out.pth', weights_only=True)
    assert 'layer4.1.bn2.running_mean' in plain and 'fc.bias' not in plain
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        tool.main([str(tmp_path / 'missing.pth'), str(tmp_path / 'x.pth')])
