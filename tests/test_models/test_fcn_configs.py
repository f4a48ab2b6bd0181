"""The FCN model configs of this package build with consistent channels (meta device)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from fcn_mm.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EXPECTED = {
    'fcn_r101-d8_480x480_voc.py': ('ResNetV1c', 101, 'open-mmlab://resnet101_v1c', 2048, 1024),
    'fcn_r18-d8_480x480_voc.py': ('ResNetV1c', 18, 'open-mmlab://resnet18_v1c', 512, 256),
    'fcn_r50v1d-d8_480x480_voc.py': ('ResNetV1d', 50, 'mmcls://resnet50_v1d', 2048, 1024),
}


def _bn(model_cfg: dict) -> dict:
    for key in ('backbone', 'decode_head', 'auxiliary_head'):
        model_cfg[key]['norm_cfg'] = dict(type='BN', requires_grad=True)
    return model_cfg


def test_base_model_config_keeps_mmseg_values():
    model = Config.fromfile(osp.join(REPO, 'configs/_base_/models/fcn_r50-d8.py')).model
    assert model.backbone.norm_cfg == dict(type='SyncBN', requires_grad=True)
    assert model.pretrained == 'open-mmlab://resnet50_v1c'
    assert model.decode_head.num_classes == model.auxiliary_head.num_classes == 19
    assert model.auxiliary_head.loss_decode.loss_weight == 0.4
    assert model.test_cfg == dict(mode='whole')


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_leaf_configs_build(name):
    path = osp.join(REPO, 'configs', 'fcn', name)
    assert osp.isfile(path), f'config {path} is missing'
    cfg = Config.fromfile(path)  # a missing parent leaf fails here
    with torch.device('meta'):
        model = MODELS.build(_bn(cfg.model.to_dict()))
    kind, depth, pretrained, dec_in, aux_in = EXPECTED[name]
    assert type(model.backbone).__name__ == kind and model.backbone.depth == depth
    assert model.backbone.init_cfg == dict(type='Pretrained', checkpoint=pretrained)
    assert (model.decode_head.in_channels, model.auxiliary_head.in_channels) == (dec_in, aux_in)
    assert model.num_classes == 21
