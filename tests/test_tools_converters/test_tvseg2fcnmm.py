"""tools/model_converters/tvseg2fcnmm.py: torchvision's fcn_resnet50 == fcn_mm's model."""
import importlib.util
import os.path as osp
import warnings

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torchvision.models import segmentation

from fcn_mm.registry import MODELS
from fcn_mm.structures import SegDataSample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_TOOL = osp.join(REPO, 'tools', 'model_converters', 'tvseg2fcnmm.py')
# torchvision's normalisation (0..1 RGB, ImageNet mean/std), written out
TV_MEAN, TV_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

pytestmark = pytest.mark.usefixtures('one_thread')


def _load_tool():
    spec = importlib.util.spec_from_file_location('tvseg2fcnmm', _TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _config_model(depth=50, device=None):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'fcn',
                                   f'fcn_tvseg-r{depth}-d8_480x480_voc.py'))
    for key in ('decode_head', 'auxiliary_head'):  # SyncBN needs a process group
        cfg.model[key].norm_cfg = dict(type='BN', requires_grad=True)
    if device == 'meta':
        with torch.device('meta'):
            return MODELS.build(cfg.model)
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """A random fcn_resnet50 with aux head (non-trivial BN), saved, converted by the CLI."""
    torch.manual_seed(0)
    reference = segmentation.fcn_resnet50(weights=None, weights_backbone=None, aux_loss=True)
    for module in reference.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    tmp = tmp_path_factory.mktemp('tvseg')
    src, dst = tmp / 'fcn_resnet50.pth', tmp / 'fcn_mm.pth'
    torch.save(reference.state_dict(), src)
    assert _load_tool().main([str(src), str(dst)]) == 50
    model = _config_model()
    checkpoint = torch.load(dst, weights_only=True)
    model.load_state_dict(checkpoint['state_dict'], strict=True)
    return reference.eval(), model.eval(), checkpoint


@pytest.mark.parametrize('height, width', [(480, 480), (97, 131)])
def test_converted_model_predicts_what_torchvision_predicts(converted, height, width):
    reference, model, _ = converted
    generator = torch.Generator().manual_seed(height)
    image_bgr = torch.randint(0, 256, (3, height, width), dtype=torch.uint8,
                              generator=generator)
    rgb = image_bgr.flip(0)[None].float() / 255
    tv_input = (rgb - torch.tensor(TV_MEAN).view(1, 3, 1, 1)) / \
        torch.tensor(TV_STD).view(1, 3, 1, 1)
    sample = SegDataSample(metainfo=dict(ori_shape=(height, width), img_shape=(height, width)))
    with torch.no_grad():
        expected = reference(tv_input)
        got = model.test_step(dict(inputs=[image_bgr], data_samples=[sample]))[0]
        inputs = model.data_preprocessor(dict(inputs=[image_bgr]), False)['inputs']
        aux = F.interpolate(model.auxiliary_head(model.extract_feat(inputs)),
                            size=(height, width), mode='bilinear', align_corners=False)
    for ours, theirs in ((got.seg_logits.data[None], expected['out']), (aux, expected['aux'])):
        assert ours.shape == theirs.shape == (1, 21, height, width)
        assert (ours - theirs).abs().max() <= 1e-3 * theirs.abs().max()
        agree = (ours.argmax(1) == theirs.argmax(1)).float().mean()
        assert agree >= 0.999
    assert torch.equal(got.pred_sem_seg.data[0], got.seg_logits.data.argmax(0))


def test_key_mapping(converted):
    tool = _load_tool()
    assert tool.fcnmm_key('backbone.layer3.5.bn2.running_var') == \
        'backbone.layer3.5.bn2.running_var'
    assert tool.fcnmm_key('classifier.0.weight') == 'decode_head.convs.0.conv.weight'
    assert tool.fcnmm_key('classifier.1.num_batches_tracked') == \
        'decode_head.convs.0.bn.num_batches_tracked'
    assert tool.fcnmm_key('aux_classifier.4.bias') == 'auxiliary_head.conv_seg.bias'
    with pytest.raises(KeyError, match=r"'classifier.3.weight' is not a key of a torchvision"):
        tool.fcnmm_key('classifier.3.weight')
    _, _, checkpoint = converted
    assert checkpoint['meta']['layout'] == 'torchvision fcn_resnet50'
    assert checkpoint['state_dict']['decode_head.convs.0.conv.weight'].shape == \
        (512, 2048, 3, 3)


def test_resnet101_is_detected_and_loads_strictly_into_its_config():
    with torch.device('meta'):
        state = segmentation.fcn_resnet101(weights=None, weights_backbone=None,
                                           aux_loss=True).state_dict()
    depth, aux, converted = _load_tool().convert_tvseg_fcn(state)
    assert (depth, aux) == (101, True)
    model = _config_model(101, device='meta')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # copying into meta parameters is a no-op
        result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_without_aux_classifier_converts_the_rest(tmp_path, capsys):
    with torch.device('meta'):
        state = segmentation.fcn_resnet50(weights=None, weights_backbone=None,
                                          aux_loss=False, num_classes=5).state_dict()
    depth, aux, converted = _load_tool().convert_tvseg_fcn(state)
    assert (depth, aux) == (50, False)
    assert not any(k.startswith('auxiliary_head') for k in converted)
    assert converted['decode_head.conv_seg.weight'].shape == (5, 512, 1, 1)


def test_other_models_and_broken_files_are_refused():
    tool = _load_tool()
    with torch.device('meta'):
        deeplab = segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None,
                                                  aux_loss=True).state_dict()
        fcn = segmentation.fcn_resnet50(weights=None, weights_backbone=None,
                                        aux_loss=True).state_dict()
    with pytest.raises(KeyError, match=r'deeplab.pth does not fit torchvision fcn_resnet50 '
                                       r'\(21 classes, aux_loss=True\): \d+ unknown keys '
                                       r"\['classifier.0.convs.0.0.weight'"):
        tool.convert_tvseg_fcn(deeplab, 'deeplab.pth')
    import torchvision
    with pytest.raises(KeyError, match='is not a torchvision fcn_resnet50/101 state dict: '
                                       'it has 0 backbone.layer3 blocks'):
        tool.convert_tvseg_fcn(torchvision.models.resnet50().state_dict(), 'r50.pth')
    broken = dict(fcn)
    broken['aux_classifier.0.weight'] = torch.empty(256, 512, 3, 3, device='meta')
    del broken['classifier.1.running_var']
    with pytest.raises(KeyError, match=r"1 missing keys \['classifier.1.running_var'\]"):
        tool.convert_tvseg_fcn(broken)
    broken['classifier.1.running_var'] = torch.empty(512, device='meta')
    with pytest.raises(ValueError, match=r'aux_classifier.0.weight has shape \(256, 512, 3, '
                                         r'3\), expected \(256, 1024, 3, 3\)'):
        tool.convert_tvseg_fcn(broken)
