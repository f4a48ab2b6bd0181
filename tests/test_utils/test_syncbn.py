"""SyncBN -> BN in configs, with its warning."""
import pytest
from mmengine.config import Config

from fcn_mm.utils.syncbn import convert_syncbn_cfg, maybe_convert_syncbn


def test_convert_syncbn_walks_dicts_and_lists():
    cfg = dict(norm_cfg=dict(type='SyncBN', requires_grad=True),
               model=dict(backbone=dict(norm_cfg=dict(type='SyncBN')),
                          auxiliary_head=[dict(norm_cfg=dict(type='SyncBN')),
                                          dict(norm_cfg=dict(type='GN'))]))
    assert convert_syncbn_cfg(cfg) == ['norm_cfg.type', 'model.backbone.norm_cfg.type',
                                       'model.auxiliary_head[0].norm_cfg.type']
    assert cfg['model']['auxiliary_head'][0]['norm_cfg']['type'] == 'BN'
    assert cfg['model']['auxiliary_head'][1]['norm_cfg']['type'] == 'GN'
    assert cfg['norm_cfg'] == dict(type='BN', requires_grad=True)


def test_maybe_convert_syncbn_warns_without_cuda_processes():
    cfg = Config(dict(model=dict(backbone=dict(norm_cfg=dict(type='SyncBN'))),
                      sync_bn='torch'))
    with pytest.warns(UserWarning, match=r'converted 2 SyncBN setting.*: '
                      r'model\.backbone\.norm_cfg\.type, sync_bn \(dropped\)'):
        assert maybe_convert_syncbn(cfg) == 2
    assert cfg.model.backbone.norm_cfg.type == 'BN' and 'sync_bn' not in cfg
