"""ResNet weights in the mmpretrain (mmcls) layout load into fcn_mm's ResNetV1c/V1d."""
import os.path as osp

import pytest
import torch
from mmengine.logging import MMLogger

from fcn_mm.models.backbones.mmpretrain_layout import rename_mmpretrain_resnet_keys
from fcn_mm.models.backbones.resnet import ResNetV1c, ResNetV1d

BN = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
# mmpretrain's deep stem: three ConvModules (conv + bn); ours: conv, bn, relu repeated
STEM_NAMES = [(f'stem.{i}.conv.weight', f'stem.{3 * i}.weight') for i in range(3)] + \
    [(f'stem.{i}.bn.{p}', f'stem.{3 * i + 1}.{p}') for i in range(3) for p in BN]
# mmpretrain's layer1 (stride 1) has no AvgPool in its downsample; ours has one first
LAYER1_NAMES = [('layer1.0.downsample.0.weight', 'layer1.0.downsample.1.weight')] + \
    [(f'layer1.0.downsample.1.{p}', f'layer1.0.downsample.2.{p}') for p in BN]


def _tiny_v1d(**kwargs):
    return ResNetV1d(depth=50, stem_channels=8, base_channels=4, **kwargs)


def _mmpretrain_state_dict(model, prefix=''):
    """The model's weights, randomised, under mmpretrain's key names."""
    ours_to_theirs = {ours: theirs for theirs, ours in STEM_NAMES + LAYER1_NAMES}
    state = {}
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            value = torch.rand_like(value) + 0.5
        state[prefix + ours_to_theirs.get(key, key)] = value
    return state


def test_mmpretrain_v1d_weights_load_strictly_into_the_right_layers():
    theirs = _mmpretrain_state_dict(_tiny_v1d())
    assert 'stem.1.bn.running_var' in theirs and 'layer1.0.downsample.0.weight' in theirs
    model = _tiny_v1d()
    model.load_state_dict(theirs, strict=True)
    ours = model.state_dict()
    for their_key, our_key in STEM_NAMES + LAYER1_NAMES:
        assert torch.equal(ours[our_key], theirs[their_key]), (their_key, our_key)
    # stride-2 stages have the pool in both layouts: loaded under the same names
    for key in ('layer2.0.downsample.1.weight', 'layer2.0.downsample.2.running_mean',
                'layer4.0.conv2.weight'):
        assert torch.equal(ours[key], theirs[key])


def test_our_own_layout_is_left_alone():
    model = _tiny_v1d()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    assert rename_mmpretrain_resnet_keys(dict(state), '', model) == []
    model.load_state_dict(state, strict=True)


def test_v1c_renames_only_the_stem():
    model = ResNetV1c(depth=18, stem_channels=8, base_channels=4)
    state = {}
    for key, value in model.state_dict().items():
        state[{ours: theirs for theirs, ours in STEM_NAMES}.get(key, key)] = value
    renamed = rename_mmpretrain_resnet_keys(state, '', model)
    assert sorted(renamed) == sorted(STEM_NAMES)
    assert 'layer2.0.downsample.0.weight' in state  # V1c: conv first, no pool
    model.load_state_dict(state, strict=True)


def test_full_segmentor_checkpoint_under_backbone_prefix():
    from fcn_mm.registry import MODELS
    from fcn_mm.utils.config_check import load_config
    cfg = load_config(osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'fcn',
                               'fcn_r50v1d-d8_480x480_voc.py'))
    cfg.model.pretrained = None
    cfg.model.backbone.update(stem_channels=8, base_channels=4)
    cfg.model.decode_head.update(in_channels=128, channels=8)
    cfg.model.auxiliary_head.update(in_channels=64, channels=4)
    segmentor = MODELS.build(cfg.model)
    state = dict(segmentor.state_dict())
    backbone_state = _mmpretrain_state_dict(segmentor.backbone, prefix='backbone.')
    state = {k: v for k, v in state.items() if not k.startswith('backbone.')}
    state.update(backbone_state)
    segmentor.load_state_dict(state, strict=True)
    assert torch.equal(segmentor.backbone.stem[7].running_mean,
                       backbone_state['backbone.stem.2.bn.running_mean'])


def test_mmcls_zoo_name_loads_every_backbone_weight(tmp_path, monkeypatch):
    from mmengine.runner.checkpoint import get_mmcls_models
    monkeypatch.setenv('FCN_MM_HOME', str(tmp_path / 'home'))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    file_name = osp.basename(get_mmcls_models()['resnet50_v1d'])
    theirs = _mmpretrain_state_dict(_tiny_v1d(), prefix='backbone.')
    theirs['head.fc.weight'] = torch.zeros(10, 2048)
    (tmp_path / 'home' / 'checkpoints').mkdir(parents=True)
    torch.save(dict(state_dict=theirs), str(tmp_path / 'home' / 'checkpoints' / file_name))

    model = _tiny_v1d(pretrained='mmcls://resnet50_v1d')
    messages = []
    logger = MMLogger.get_current_instance()
    monkeypatch.setattr(logger, 'warning', lambda msg, *a, **k: messages.append(msg))
    model.init_weights()
    assert not [m for m in messages if 'missing keys' in str(m)], messages
    for their_key, our_key in STEM_NAMES + LAYER1_NAMES:
        assert torch.equal(model.state_dict()[our_key], theirs['backbone.' + their_key])
