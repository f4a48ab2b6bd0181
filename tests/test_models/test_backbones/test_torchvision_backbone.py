"""TorchvisionBackbone: stages, output strides, errors, freezing, local weights, FCN use."""
import os.path as osp

import pytest
import torch
import torchvision
from mmengine.config import Config
from torch.nn.modules.batchnorm import _BatchNorm

from fcn_mm.models.backbones.torchvision_backbone import (TorchvisionBackbone, dilate_stage,
                                                          resolve_weights_file)
from fcn_mm.registry import MODELS

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'fcn')


@pytest.mark.parametrize('name, output_stride, channels', [
    ('resnet18', 8, (64, 128, 256, 512)),
    ('mobilenet_v3_small', 8, (16, 24, 48, 576)),
    ('mobilenet_v3_small', 16, (16, 24, 48, 576)),
    ('convnext_tiny', 32, (96, 192, 384, 768)),
    ('efficientnet_b0', 8, (24, 40, 112, 1280)),
    ('regnet_y_400mf', 16, (48, 104, 208, 440)),
])
def test_stage_shapes_follow_output_stride(name, output_stride, channels):
    backbone = TorchvisionBackbone(name, output_stride=output_stride).eval()
    assert backbone.out_channels == channels
    with torch.no_grad():
        outs = backbone(torch.rand(1, 3, 67, 93))
    assert len(outs) == 4
    for stage, (out, ch) in enumerate(zip(outs, channels)):
        stride = min(4 * 2**stage, output_stride)
        if name.startswith('convnext'):  # unpadded patchify convs floor the size
            assert tuple(out.shape) == (1, ch, 67 // stride, 93 // stride)
        else:
            assert tuple(out.shape) == (1, ch, -(-67 // stride), -(-93 // stride))


def test_out_indices_select_stages():
    backbone = TorchvisionBackbone('mobilenet_v3_small', out_indices=(1, 3)).eval()
    assert backbone.out_channels == (24, 576)
    with torch.no_grad():
        outs = backbone(torch.rand(1, 3, 32, 32))
    assert [tuple(o.shape[1:]) for o in outs] == [(24, 4, 4), (576, 4, 4)]


@pytest.mark.parametrize('output_stride, flags', [(8, [False, True, True]),
                                                  (16, [False, False, True])])
def test_dilate_stage_matches_torchvision_replace_stride(output_stride, flags):
    expected = torchvision.models.resnet50(replace_stride_with_dilation=flags)
    ours, rate = torchvision.models.resnet50(), 1
    for name in ['layer3', 'layer4'][-sum(flags):]:
        rate = dilate_stage([(name, getattr(ours, name))], rate)
    assert rate == 32 // output_stride

    def settings(model):
        return [(n, m.stride, m.dilation, m.padding) for n, m in model.named_modules()
                if isinstance(m, torch.nn.Conv2d)]
    assert settings(ours) == settings(expected)


def test_convnext_refuses_dilation():
    with pytest.raises(ValueError, match='convnext_tiny supports only output_stride=32'):
        TorchvisionBackbone('convnext_tiny', output_stride=8)
    patchify = torch.nn.Sequential(torch.nn.GroupNorm(1, 8), torch.nn.Conv2d(8, 16, 2, 2))
    with pytest.raises(ValueError, match=r'features.4.1 downsamples .*odd-kernel'):
        dilate_stage([('features.4', patchify), ('features.5', torch.nn.Identity())], 1)
    with pytest.raises(ValueError, match=r'layer2.0 downsamples with MaxPool2d'):
        dilate_stage([('layer2', torch.nn.Sequential(torch.nn.MaxPool2d(3, 2, 1)))], 1)


def test_unknown_model_names_suggest_close_ones():
    with pytest.raises(ValueError, match=r"model_name='resnet5O'.*did you mean \['resnet50'"):
        TorchvisionBackbone('resnet5O')
    with pytest.raises(ValueError, match="mobilenet_v3_large"):
        TorchvisionBackbone('mobilenetv3_large')
    with pytest.raises(ValueError, match="'vit_b_16' is a torchvision model of a family"):
        TorchvisionBackbone('vit_b_16')


@pytest.mark.parametrize('kwargs, match', [
    (dict(output_stride=4), 'output_stride must be 8, 16 or 32, got 4'),
    (dict(out_indices=(0, 4)), r'out_indices must be distinct stages in 0..3, got \(0, 4\)'),
    (dict(frozen_stages=5), 'frozen_stages must be in -1..4, got 5'),
    (dict(model_kwargs=dict(weights='x')), 'model_kwargs must not set weights'),
])
def test_bad_arguments_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TorchvisionBackbone('mobilenet_v3_small', **kwargs)


def test_frozen_stages_and_norm_eval():
    backbone = TorchvisionBackbone('resnet18', frozen_stages=1)
    backbone.train()
    for name in ('conv1', 'bn1', 'layer1'):
        module = backbone.get_submodule(name)
        assert not any(p.requires_grad for p in module.parameters())
        assert not module.training
    assert all(p.requires_grad for p in backbone.layer2.parameters())
    assert backbone.layer2[0].bn1.training

    backbone = TorchvisionBackbone('mobilenet_v3_small', frozen_stages=1, norm_eval=True)
    backbone.train()
    assert not any(p.requires_grad for p in backbone.features[1].parameters())
    assert all(p.requires_grad for p in backbone.features[2].parameters())
    assert not any(m.training for m in backbone.modules() if isinstance(m, _BatchNorm))
    assert backbone.features[2].training


def _random_state_dict(name):
    torch.manual_seed(0)
    model = torchvision.models.get_model(name)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, _BatchNorm):
                module.running_mean.uniform_(-0.5, 0.5)
    return model.state_dict()


def test_weights_load_from_file_folder_and_cache_without_network(tmp_path, monkeypatch,
                                                                  no_network):
    state = _random_state_dict('mobilenet_v3_small')
    file_name = osp.basename(torchvision.models.get_model_weights(
        'mobilenet_v3_small').DEFAULT.url)
    torch.save(state, tmp_path / file_name)
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path / 'hub'))
    (tmp_path / 'hub' / 'checkpoints').mkdir(parents=True)
    torch.save(state, tmp_path / 'hub' / 'checkpoints' / file_name)
    for weights in (str(tmp_path / file_name), str(tmp_path), 'DEFAULT'):
        backbone = TorchvisionBackbone('mobilenet_v3_small', weights=weights, output_stride=32)
        loaded = backbone.state_dict()
        assert set(loaded) == {k for k in state if k.startswith('features.')}
        assert all(torch.equal(loaded[k], state[k]) for k in loaded)


def test_weights_errors_name_the_file(tmp_path, no_network):
    with pytest.raises(FileNotFoundError, match=r"mobilenet_v3_small-047dcff4.pth.*in ") as info:
        resolve_weights_file('mobilenet_v3_small', str(tmp_path))
    url = 'https://download.pytorch.org/models/mobilenet_v3_small-047dcff4.pth'
    target = str(tmp_path / 'mobilenet_v3_small-047dcff4.pth')
    assert f'Download {url} to {target}' in str(info.value)
    assert f'mkdir -p {tmp_path} && curl -L -o {target} {url}' in str(info.value)
    with pytest.raises(FileNotFoundError, match='neither a file, a folder, nor a weights name'):
        resolve_weights_file('mobilenet_v3_small', str(tmp_path / 'nope.pth'))
    torch.save(_random_state_dict('resnet18'), tmp_path / 'r18.pth')
    with pytest.raises(ValueError, match=r'r18.pth does not hold torchvision resnet34 weights'):
        TorchvisionBackbone('resnet34', weights=str(tmp_path / 'r18.pth'))


def test_model_pretrained_means_weights(tmp_path, no_network):
    torch.save(_random_state_dict('mobilenet_v3_small'), tmp_path / 'mbv3s.pth')
    backbone = TorchvisionBackbone('mobilenet_v3_small', pretrained=str(tmp_path / 'mbv3s.pth'))
    assert torch.equal(backbone.features[0][1].running_mean,
                       _random_state_dict('mobilenet_v3_small')['features.0.1.running_mean'])
    with pytest.raises(ValueError, match='are both set'):
        TorchvisionBackbone('mobilenet_v3_small', weights='a.pth', pretrained='b.pth')


def test_segmentor_init_weights_keeps_loaded_weights(tmp_path, no_network):
    """The Runner calls model.init_weights(): it must not re-initialise the backbone."""
    state = _random_state_dict('mobilenet_v3_small')
    torch.save(state, tmp_path / 'mbv3s.pth')
    head = dict(type='FCNHead', in_channels=576, in_index=3, channels=8, num_convs=1,
                num_classes=3, norm_cfg=dict(type='BN'))
    model = MODELS.build(dict(
        type='EncoderDecoder', pretrained=str(tmp_path / 'mbv3s.pth'), decode_head=head,
        backbone=dict(type='TorchvisionBackbone', model_name='mobilenet_v3_small')))
    model.init_weights()
    loaded = model.backbone.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in loaded)


def _config(name: str) -> Config:
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    for head in ('decode_head', 'auxiliary_head'):
        cfg.model[head].norm_cfg = dict(type='BN', requires_grad=True)
    return cfg


@pytest.mark.parametrize('name, logits_size', [
    ('fcn_tv-r50-d8_480x480_voc.py', 60),
    ('fcn_tv-rx50-d8_480x480_voc.py', 60),
    ('fcn_tv-mbv3l-d8_480x480_voc.py', 60),
    ('fcn_tv-convnext-t_480x480_voc.py', 15),
])
def test_config_builds_and_gives_logits_at_480(name, logits_size):
    """Full-size shapes on the meta device (no compute); real compute is in the training test."""
    cfg = _config(name)
    assert cfg.model.pretrained is None and cfg.model.backbone.weights is None
    with torch.device('meta'):
        model = MODELS.build(cfg.model).eval()
        with torch.no_grad():
            logits = model(torch.zeros(1, 3, 480, 480), mode='tensor')
    assert tuple(logits.shape) == (1, 21, logits_size, logits_size)
    assert type(model.backbone).__name__ == 'TorchvisionBackbone'
    assert model.decode_head.in_channels == model.backbone.out_channels[3]


def test_wrong_head_in_channels_names_the_right_number():
    cfg = _config('fcn_tv-mbv3l-d8_480x480_voc.py')
    cfg.model.decode_head.in_channels = 2048
    with torch.device('meta'), pytest.raises(ValueError,
                                             match=r'model.decode_head.in_channels=960'):
        MODELS.build(cfg.model)


@pytest.mark.parametrize('config, backbone', [
    ('fcn_tv-r50-d8_480x480_voc.py', dict(model_name='resnet18')),
    ('fcn_tv-mbv3l-d8_480x480_voc.py', dict(model_name='mobilenet_v3_small',
                                            model_kwargs=dict(width_mult=0.5))),
    ('fcn_tv-convnext-t_480x480_voc.py', dict(model_kwargs=dict(stochastic_depth_prob=0.0))),
])
def test_tiny_training_lowers_the_loss(config, backbone, make_sample):
    from mmengine.optim import OptimWrapper
    cfg = _config(config)
    cfg.model.backbone.update(backbone)
    cfg.model.data_preprocessor.size = None
    out_channels = MODELS.build(cfg.model.backbone).out_channels
    for head, index in (('decode_head', 3), ('auxiliary_head', 2)):
        cfg.model[head].update(in_channels=out_channels[index], channels=16, num_classes=3)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    labels = torch.zeros(2, 64, 64, dtype=torch.long)
    labels[:, :, 32:] = 1
    labels[1, 32:] = 2
    data = dict(inputs=list(images), data_samples=[make_sample(lab) for lab in labels])
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    first_conv = next(m for m in model.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    before = first_conv.weight.detach().clone()
    model.train()
    losses = [model.train_step(data, optim)['loss'].item() for _ in range(6)]
    assert losses[-1] < 0.8 * losses[0], losses
    assert not torch.equal(first_conv.weight, before)  # gradients reach the stem
