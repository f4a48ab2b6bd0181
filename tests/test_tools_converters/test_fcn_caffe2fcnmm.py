"""tools/model_converters/fcn_caffe2fcnmm.py: detection, checks, CLI, strict loading."""
import importlib.util
import os.path as osp
import warnings

import pytest
import torch
import torchvision
from mmengine.config import Config

from fcn_mm.registry import MODELS
from fcn_mm.utils.safe_loading import CheckpointLoadError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_TOOL = osp.join(REPO, 'tools', 'model_converters', 'fcn_caffe2fcnmm.py')

pytestmark = pytest.mark.usefixtures('one_thread')


def _load_tool():
    spec = importlib.util.spec_from_file_location('fcn_caffe2fcnmm', _TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# the PyTorch ports of the released Caffe nets (full width, 21 classes), written out
VGG16 = [('conv1_1', 3, 64), ('conv1_2', 64, 64), ('conv2_1', 64, 128),
         ('conv2_2', 128, 128), ('conv3_1', 128, 256), ('conv3_2', 256, 256),
         ('conv3_3', 256, 256), ('conv4_1', 256, 512), ('conv4_2', 512, 512),
         ('conv4_3', 512, 512), ('conv5_1', 512, 512), ('conv5_2', 512, 512),
         ('conv5_3', 512, 512)]
HEADS = {
    '32s': {'upscore.weight': (21, 21, 64, 64)},
    '16s': {'score_pool4.weight': (21, 512, 1, 1), 'score_pool4.bias': (21, ),
            'upscore2.weight': (21, 21, 4, 4), 'upscore16.weight': (21, 21, 32, 32)},
    '8s': {'score_pool4.weight': (21, 512, 1, 1), 'score_pool4.bias': (21, ),
           'score_pool3.weight': (21, 256, 1, 1), 'score_pool3.bias': (21, ),
           'upscore2.weight': (21, 21, 4, 4), 'upscore_pool4.weight': (21, 21, 4, 4),
           'upscore8.weight': (21, 21, 16, 16)},
}


def caffe_shapes(arch):
    shapes = {}
    for name, cin, cout in VGG16:
        shapes[f'{name}.weight'], shapes[f'{name}.bias'] = (cout, cin, 3, 3), (cout, )
    shapes.update({'fc6.weight': (4096, 512, 7, 7), 'fc6.bias': (4096, ),
                   'fc7.weight': (4096, 4096, 1, 1), 'fc7.bias': (4096, ),
                   'score_fr.weight': (21, 4096, 1, 1), 'score_fr.bias': (21, )})
    shapes.update(HEADS[arch])
    return shapes


def _meta_state(arch):
    return {k: torch.empty(s, device='meta') for k, s in caffe_shapes(arch).items()}


def _config_model(arch):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'fcn', f'fcn{arch}_vgg16_480x480_voc.py'))
    cfg.model.pretrained = None
    with torch.device('meta'):
        return MODELS.build(cfg.model)


@pytest.mark.parametrize('arch', ['32s', '16s', '8s'])
def test_full_width_weights_load_strictly_into_the_matching_config(arch):
    tool = _load_tool()
    detected, converted = tool.convert_caffe_fcn(_meta_state(arch))
    assert detected == arch
    assert converted['backbone.conv1_1.weight'].shape == (64, 3, 3, 3)
    assert 'decode_head.score_fr.bias' in converted and 'backbone.fc7.bias' in converted
    model = _config_model(arch)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # copying into meta parameters is a no-op
        result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert tool.expected_shapes(arch) == caffe_shapes(arch)


def test_other_variants_do_not_load_strictly():
    converted = _load_tool().convert_caffe_fcn(_meta_state('16s'))[1]
    with pytest.raises(RuntimeError, match='upscore8.weight'):
        _config_model('8s').load_state_dict(converted, strict=True)


def _narrow_state(arch='8s', seed=0):
    torch.manual_seed(seed)
    shapes = _load_tool().expected_shapes(arch, base=2, fc=8, num_classes=3)
    return {k: torch.randn(s) for k, s in shapes.items()}


@pytest.mark.parametrize('wrap', [None, 'state_dict', 'model_state_dict'])
def test_cli_reads_plain_and_wrapped_files(tmp_path, wrap, capsys):
    state = _narrow_state('16s')
    src, dst = tmp_path / 'fcn16s.pth', tmp_path / 'out.pth'
    torch.save(state if wrap is None else {wrap: state, 'epoch': 3}, src)
    assert _load_tool().main([str(src), str(dst)]) == '16s'
    saved = torch.load(dst, weights_only=True)
    assert set(saved) == {'meta', 'state_dict'}
    assert saved['meta']['layout'] == 'FCN-16s VGG16 (Caffe-exact)'
    assert sorted(saved['state_dict']) == sorted(
        ('backbone.' if k.startswith(('conv', 'fc')) else 'decode_head.') + k for k in state)
    torch.testing.assert_close(saved['state_dict']['decode_head.upscore16.weight'],
                               state['upscore16.weight'])
    assert 'fcn16s_vgg16_480x480_voc.py' in capsys.readouterr().out


def test_unknown_keys_are_named():
    state = _narrow_state()
    state['score_pool5.weight'] = torch.zeros(3, 8, 1, 1)
    with pytest.raises(KeyError, match=r"mine.pth does not fit an FCN-8s VGG16 \(3 classes, "
                                       r"conv1_1 of 2 and fc6 of 8 channels\): 1 unknown keys "
                                       r"\['score_pool5.weight'\]"):
        _load_tool().convert_caffe_fcn(state, 'mine.pth')


def test_missing_keys_are_named():
    state = _narrow_state()
    del state['conv4_2.bias'], state['score_pool3.weight']
    with pytest.raises(KeyError, match=r"2 missing keys \['conv4_2.bias', "
                                       r"'score_pool3.weight'\]"):
        _load_tool().convert_caffe_fcn(state, 'mine.pth')


def test_wrong_shapes_are_named_with_the_expected_shape():
    state = _narrow_state()
    state['conv3_2.weight'] = torch.zeros(8, 8, 1, 1)
    state['upscore8.weight'] = torch.zeros(3, 3, 8, 8)
    with pytest.raises(ValueError, match=r'conv3_2.weight has shape \(8, 8, 1, 1\), '
                                         r'expected \(8, 8, 3, 3\); upscore8.weight has '
                                         r'shape \(3, 3, 8, 8\), expected \(3, 3, 16, 16\)'):
        _load_tool().convert_caffe_fcn(state, 'mine.pth')


def test_a_file_of_another_model_is_refused(tmp_path):
    src = tmp_path / 'resnet18.pth'
    torch.save(torchvision.models.resnet18().state_dict(), src)
    with pytest.raises(KeyError, match=r"resnet18.pth'? is not an FCN VGG16 state dict in the "
                                       r"Caffe layout: none of \['upscore.weight', "
                                       r"'upscore16.weight', 'upscore8.weight'\]"):
        _load_tool().main([str(src), str(tmp_path / 'out.pth')])


def test_two_variants_in_one_file_are_refused():
    state = _narrow_state()
    state['upscore.weight'] = torch.zeros(3, 3, 64, 64)
    with pytest.raises(KeyError, match='mixes FCN variants'):
        _load_tool().convert_caffe_fcn(state)


class _Pickled:
    pass


def test_files_with_objects_are_refused_by_the_safe_loader(tmp_path):
    src = tmp_path / 'evil.pth'
    torch.save({'state_dict': _narrow_state(), 'obj': _Pickled()}, src)
    with pytest.raises(CheckpointLoadError, match='evil.pth'):
        _load_tool().main([str(src), str(tmp_path / 'out.pth')])
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        _load_tool().main([str(tmp_path / 'missing.pth'), str(tmp_path / 'out.pth')])
