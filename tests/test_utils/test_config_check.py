"""load_config / check_config: inheritance, --cfg-options and the pre-flight errors."""
import cv2
import numpy as np
import pytest
import torch.nn as nn
from mmengine.config import Config

from fcn_mm.registry import DATASETS, MODELS
from fcn_mm.utils.config_check import (UnknownKeywordError, UnknownTypeError,
                                       check_config, load_config)
from fcn_mm.utils.signature_check import accepted_keywords

MODEL_BASE = """
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255),
    pretrained=None,
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=4,
                  out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                  norm_cfg=norm_cfg, contract_dilation=True),
    decode_head=dict(type='FCNHead', in_channels=32, in_index=3, channels=8, num_convs=2,
                     concat_input=True, dropout_ratio=0.1, num_classes=5, norm_cfg=norm_cfg,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                      loss_weight=1.0)),
    auxiliary_head=dict(type='FCNHead', in_channels=16, in_index=2, channels=4,
                        num_convs=1, concat_input=False, num_classes=5, norm_cfg=norm_cfg,
                        loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
"""

DATA_BASE = """
data_root = '{root}'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(16, 16)),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='BaseSegDataset', data_root=data_root, img_suffix='.png',
                 data_prefix=dict(img_path='img', seg_map_path='ann', extra='x'),
                 metainfo=dict(classes=('a', 'b', 'c'),
                               palette=[[0, 0, 0], [9, 9, 9], [99, 99, 99]]),
                 pipeline=train_pipeline))
"""

CHILD = """
_base_ = ['./_base_/model.py', './_base_/data.py']
model = dict(
    auxiliary_head=None,
    decode_head=dict(num_classes=3,
                     loss_decode=dict(_delete_=True, type='CrossEntropyLoss',
                                      loss_weight=0.5)),
    backbone=dict(norm_cfg=dict(_delete_=True, type='BN', eps=1e-3)))
train_dataloader = dict(dataset=dict(data_prefix=dict(_delete_=True, img_path='img',
                                                      seg_map_path='ann')))
"""


@pytest.fixture
def child_config(tmp_path):
    """A leaf config inheriting a model base and a data base, plus 2 tiny samples."""
    (tmp_path / '_base_').mkdir()
    (tmp_path / '_base_' / 'model.py').write_text(MODEL_BASE)
    (tmp_path / '_base_' / 'data.py').write_text(DATA_BASE.format(root=tmp_path))
    (tmp_path / 'child.py').write_text(CHILD)
    for sub in ('img', 'ann'):
        (tmp_path / sub).mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        cv2.imwrite(str(tmp_path / 'img' / f'{i}.png'),
                    rng.integers(0, 255, (12, 10, 3), dtype=np.uint8))
        cv2.imwrite(str(tmp_path / 'ann' / f'{i}.png'),
                    rng.integers(0, 3, (12, 10), dtype=np.uint8))
    return tmp_path / 'child.py'


def test_inheritance_overrides_delete_and_dropped_head(child_config):
    cfg = load_config(child_config)
    check_config(cfg)
    assert cfg.model.auxiliary_head is None
    assert dict(cfg.model.decode_head.loss_decode) == dict(type='CrossEntropyLoss',
                                                           loss_weight=0.5)
    assert dict(cfg.model.backbone.norm_cfg) == dict(type='BN', eps=1e-3)
    assert cfg.model.decode_head.channels == 8  # inherited, untouched
    model = MODELS.build(cfg.model)
    assert getattr(model, 'auxiliary_head', None) is None
    assert not [k for k in model.state_dict() if k.startswith('auxiliary_head')]
    assert model.decode_head.conv_seg.out_channels == 3
    bns = [m for m in model.backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(m.eps == 1e-3 for m in bns)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == 2
    assert 'extra' not in dataset.data_prefix


def test_cfg_options_reach_built_objects(child_config):
    options = {'train_dataloader.dataset.pipeline.2.scale': (24, 20),
               'model.decode_head.channels': 6, 'model.backbone.stem_channels': 12}
    cfg = load_config(child_config, cfg_options=options)
    assert cfg.train_pipeline[2].scale == (16, 16)  # the variable copy is separate
    check_config(cfg)
    model = MODELS.build(cfg.model)
    assert model.decode_head.conv_seg.in_channels == 6
    assert model.backbone.stem[6].out_channels == 12
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert tuple(dataset.pipeline.transforms[2].scale) == (24, 20)
    assert tuple(dataset[0]['inputs'].shape) == (3, 20, 24)


def _model_cfg(**changes):
    cfg = Config.fromstring(MODEL_BASE, file_format='.py')
    cfg.merge_from_dict(changes, allow_list_keys=True)
    return cfg


@pytest.mark.parametrize('changes,path,registry,suggestion', [
    ({'model.decode_head.type': 'FCNHaed'}, 'model.decode_head.type', 'fcn_mm::model',
     'FCNHead'),
    ({'model.backbone.type': 'resnetv1c'}, 'model.backbone.type', 'fcn_mm::model',
     'ResNetV1c'),
    ({'model.decode_head.loss_decode.type': 'CrossEntropyLos'},
     'model.decode_head.loss_decode.type', 'fcn_mm::model', 'CrossEntropyLoss'),
    ({'model.backbone.init_cfg': dict(type='Pretrianed', checkpoint='x.pth')},
     'model.backbone.init_cfg.type', 'fcn_mm::weight initializer', 'Pretrained'),
])
def test_unknown_type_names_registry_path_and_close_names(changes, path, registry,
                                                          suggestion):
    with pytest.raises(UnknownTypeError) as info:
        check_config(_model_cfg(**changes))
    message = str(info.value)
    assert isinstance(info.value, KeyError)
    assert f'`{path}`' in message and registry in message, message
    assert f"Did you mean: '{suggestion}'" in message, message


def test_unknown_type_in_a_list_of_heads():
    cfg = _model_cfg()
    aux = dict(cfg.model.auxiliary_head)
    cfg.model.auxiliary_head = [aux, dict(aux, type='FCNHeda')]
    with pytest.raises(UnknownTypeError, match=r"'FCNHeda' \(config key "
                                               r"`model\.auxiliary_head\[1\]\.type`\)"):
        check_config(cfg)


def test_unknown_types_in_pipelines_datasets_and_runtime(child_config):
    cfg = load_config(child_config)
    cfg.tta_pipeline = [dict(type='LoadImageFromFile'),
                        dict(type='TestTimeAug', transforms=[
                            [dict(type='Resize', scale=(8, 8))],
                            [dict(type='RandomFlip', prob=1.), dict(type='RandomFlp')]])]
    with pytest.raises(UnknownTypeError,
                       match=r'`tta_pipeline\[1\]\.transforms\[1\]\[1\]\.type`.*transform'
                             r".*'RandomFlip'"):
        check_config(cfg)
    cfg = load_config(child_config)
    inner = dict(cfg.train_dataloader.dataset)
    inner['pipeline'] = [dict(type='LoadImageFromFil')]
    cfg.train_dataloader.dataset = dict(type='ConcatDataset', datasets=[
        dict(cfg.train_dataloader.dataset), inner])
    with pytest.raises(UnknownTypeError, match=r'train_dataloader\.dataset\.datasets\[1\]'
                                               r'\.pipeline\[0\]\.type'):
        check_config(cfg)
    for key, value, path in [
            ('default_hooks', dict(ckpt=dict(type='CheckpointHok')), 'default_hooks.ckpt'),
            ('val_evaluator', dict(type='IoUMetrik'), 'val_evaluator'),
            ('param_scheduler', [dict(type='PolyLR'), dict(type='PolyLr')],
             r'param_scheduler\[1\]'),
            ('optim_wrapper', dict(optimizer=dict(type='SDG')), 'optim_wrapper.optimizer'),
            ('train_dataloader.sampler', dict(type='InfiniteSample'),
             'train_dataloader.sampler')]:
        cfg = load_config(child_config, cfg_options={key: value})
        with pytest.raises(UnknownTypeError, match=rf'`{path}\.type`.*Did you mean'):
            check_config(cfg)


def test_unknown_keyword_names_component_key_and_path(child_config):
    with pytest.raises(UnknownKeywordError) as info:
        check_config(_model_cfg(**{'model.backbone.depht': 18}))
    message = str(info.value)
    for part in ('ResNetV1c', "'depht'", '`model.backbone.depht`', "'depth'"):
        assert part in message, message
    cfg = load_config(child_config,
                      cfg_options={'train_dataloader.persistent_worker': True})
    with pytest.raises(TypeError, match=r"'persistent_worker'.*"
                                        r"`train_dataloader\.persistent_worker`"):
        check_config(cfg)
    cfg = load_config(child_config,
                      cfg_options={'train_dataloader.dataset.pipeline.2.scael': 3})
    with pytest.raises(TypeError, match=r'Resize.*pipeline\[2\]\.scael'):
        check_config(cfg)


def test_keywords_that_cannot_be_told_are_accepted(child_config):
    # norm_cfg keys go to build_norm_layer, RandomResize forwards **resize_cfg.
    cfg = load_config(child_config, cfg_options={
        'model.backbone.norm_cfg.requires_grad': False,
        'train_dataloader.dataset.pipeline.2': dict(type='RandomResize', scale=(16, 16),
                                                    ratio_range=(0.5, 2.0),
                                                    keep_ratio=True, anything=1)})
    check_config(cfg)

    class Pops:
        def __init__(self, a, **kwargs):
            self.b = kwargs.pop('b', None)

    class Forwards(nn.Module):
        def __init__(self, a, **kwargs):
            super().__init__(**kwargs)

    assert accepted_keywords(Pops) is None
    assert accepted_keywords(Forwards) == {'a'}


def test_missing_base_names_file_and_requester(tmp_path):
    (tmp_path / 'mid.py').write_text("_base_ = './_base_/gone.py'\n")
    (tmp_path / 'leaf.py').write_text("_base_ = ['./mid.py']\nx = 1\n")
    with pytest.raises(FileNotFoundError) as info:
        load_config(tmp_path / 'leaf.py')
    message = str(info.value)
    assert "'./_base_/gone.py'" in message and str(tmp_path / 'mid.py') in message
    with pytest.raises(FileNotFoundError, match=r'nothere\.py.*does not exist'):
        load_config(tmp_path / 'nothere.py')


def test_foreign_default_scope_is_rejected():
    cfg = _model_cfg()
    cfg.default_scope = 'mmseg'
    with pytest.raises(ValueError, match="default_scope.*'mmseg'"):
        check_config(cfg)


def test_pretrained_names_fail_early(monkeypatch, tmp_path):
    monkeypatch.setenv('FCN_MM_HOME', str(tmp_path))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    with pytest.raises(FileNotFoundError,
                       match=r'(?s)resnet50_v1c-2cccc1ad\.pth.*model\.pretrained=None'):
        check_config(_model_cfg(**{'model.pretrained': 'open-mmlab://resnet50_v1c'}))
    with pytest.raises(KeyError, match=r"Did you mean: 'resnet50_v1c'"):
        check_config(_model_cfg(**{'model.backbone.init_cfg': dict(
            type='Pretrained', checkpoint='open-mmlab://resnet50_v1')}))
    with pytest.raises(UnknownKeywordError, match='num_clases'):  # structure first
        check_config(_model_cfg(**{'model.pretrained': 'open-mmlab://resnet50_v1c',
                                   'model.decode_head.num_clases': 2}))
    cfg = _model_cfg()
    cfg.load_from = str(tmp_path / 'missing.pth')
    with pytest.raises(FileNotFoundError, match=r'missing\.pth.*`load_from`'):
        check_config(cfg)
    check_config(cfg, check_checkpoints=False)


def test_print_config_cli(child_config, capsys, monkeypatch):
    import runpy
    import sys
    from pathlib import Path
    script = Path(__file__).parents[2] / 'tools' / 'misc' / 'print_config.py'
    monkeypatch.setattr(sys, 'argv', [str(script), str(child_config), '--cfg-options',
                                      'train_dataloader.dataset.pipeline.2.scale=(24,20)',
                                      'model.decode_head.num_classes=7'])
    runpy.run_path(str(script), run_name='__main__')
    out = capsys.readouterr().out
    printed = Config.fromstring(out.split('Config:\n', 1)[1], file_format='.py')
    assert printed.model.decode_head.num_classes == 7
    assert tuple(printed.train_dataloader.dataset.pipeline[2].scale) == (24, 20)
    monkeypatch.setattr(sys, 'argv', [str(script), str(child_config), '--cfg-options',
                                      'model.decode_head.type=FCNHed'])
    with pytest.raises(UnknownTypeError, match='FCNHead'):
        runpy.run_path(str(script), run_name='__main__')
