"""Model-zoo names resolve to local files only; nothing is ever downloaded."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.runner.checkpoint import load_checkpoint

from fcn_mm.utils.pretrained import (checkpoint_file_name, checkpoint_search_dirs,
                                     checkpoint_url, fetch_command,
                                     resolve_checkpoint_name)


@pytest.fixture
def homes(tmp_path, monkeypatch):
    """Empty $FCN_MM_HOME and $TORCH_HOME; any network access fails the test."""
    fcn_home, torch_home = tmp_path / 'fcn_home', tmp_path / 'torch_home'
    monkeypatch.setenv('FCN_MM_HOME', str(fcn_home))
    monkeypatch.setenv('TORCH_HOME', str(torch_home))

    def no_network(*args, **kwargs):
        raise AssertionError(f'network access attempted: {args}')

    import mmengine.runner.checkpoint as ckpt_mod
    import urllib.request
    monkeypatch.setattr(ckpt_mod, 'load_from_http', no_network)
    monkeypatch.setattr(ckpt_mod, 'load_url', no_network, raising=False)
    monkeypatch.setattr(urllib.request, 'urlopen', no_network)
    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_network)
    return fcn_home / 'checkpoints', torch_home / 'hub' / 'checkpoints'


def _put(folder, name, obj):
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(obj, str(folder / name))
    return str(folder / name)


def test_search_dirs_follow_environment(homes):
    assert checkpoint_search_dirs() == [str(homes[0]), str(homes[1])]


@pytest.mark.parametrize('name,file_name', [
    ('open-mmlab://resnet50_v1c', 'resnet50_v1c-2cccc1ad.pth'),
    ('openmmlab://resnet101_v1c', 'resnet101_v1c-e67eebb6.pth'),
    ('torchvision://resnet50', 'resnet50-0676ba61.pth'),
    ('https://example.org/models/x/fcn_r50-d8_20k-52dc5306.pth?raw=1',
     'fcn_r50-d8_20k-52dc5306.pth'),
])
def test_zoo_names_map_to_local_files(homes, name, file_name):
    fcn_dir, torch_dir = homes
    in_torch = _put(torch_dir, file_name, {})
    assert resolve_checkpoint_name(name) == in_torch
    in_fcn = _put(fcn_dir, file_name, {})  # $FCN_MM_HOME wins
    assert resolve_checkpoint_name(name) == in_fcn


def test_missing_file_error_says_where_and_how_to_turn_off(homes):
    with pytest.raises(FileNotFoundError) as info:
        resolve_checkpoint_name('open-mmlab://resnet50_v1c')
    message = str(info.value)
    for part in ('resnet50_v1c-2cccc1ad.pth', str(homes[0]), str(homes[1]),
                 '--cfg-options model.pretrained=None', 'never downloads'):
        assert part in message, part


@pytest.mark.parametrize('name,url', [
    ('open-mmlab://resnet50_v1c',
     'https://download.openmmlab.com/pretrain/third_party/resnet50_v1c-2cccc1ad.pth'),
    ('mmcls://resnet50_v1d', 'https://download.openmmlab.com/mmclassification/v0/resnet/'
                             'resnetv1d50_b32x8_imagenet_20210531-db14775a.pth'),
    ('torchvision://resnet50', 'https://download.pytorch.org/models/resnet50-0676ba61.pth'),
    ('https://example.org/w/fcn-52dc5306.pth', 'https://example.org/w/fcn-52dc5306.pth'),
])
def test_missing_file_error_gives_the_url_the_path_and_a_command(homes, name, url):
    with pytest.raises(FileNotFoundError) as info:
        resolve_checkpoint_name(name)
    message = str(info.value)
    target = str(homes[0] / url.rsplit('/', 1)[1])  # first search folder + file name
    assert f'Download it to {target} ' in message
    if not name.startswith('https://'):
        assert f"'{name}' stands for {url}." in message
    command = f'mkdir -p {homes[0]} && curl -L -o {target} {url}'
    assert f'\n    {command}\n' in message  # one line to copy
    assert checkpoint_url(name) == url and checkpoint_file_name(name) == osp.basename(target)


def test_fetch_command_quotes_paths_with_spaces(tmp_path):
    path = str(tmp_path / 'my weights' / 'a.pth')
    assert fetch_command('https://x.org/a.pth', path) == (
        f"mkdir -p '{tmp_path}/my weights' && curl -L -o '{path}' https://x.org/a.pth")
    with pytest.raises(FileNotFoundError, match=r'--cfg-options load_from=None'):
        resolve_checkpoint_name('torchvision://resnet18', cfg_key='load_from')


def test_unknown_zoo_name_suggests_close_names(homes):
    with pytest.raises(KeyError, match=r"open-mmlab://resnet50_v1e.*Did you mean: "
                                       r"'resnet50_v1c'"):
        resolve_checkpoint_name('open-mmlab://resnet50_v1e')
    with pytest.raises(KeyError, match='torchvision://resnt50'):
        resolve_checkpoint_name('torchvision://resnt50')


def test_local_paths_pass_or_fail_clearly(homes, tmp_path):
    path = _put(tmp_path, 'local.pth', {})
    assert resolve_checkpoint_name(path) == path
    with pytest.raises(FileNotFoundError, match=r"gone\.pth.*model\.backbone"):
        resolve_checkpoint_name(str(tmp_path / 'gone.pth'), cfg_key='model.backbone')


def test_mmengine_loaders_use_local_files_only(homes):
    model = nn.Linear(2, 2)
    with pytest.raises(FileNotFoundError, match='resnet18_v1c-b5776b93.pth'):
        load_checkpoint(model, 'open-mmlab://resnet18_v1c')
    weights = dict(weight=torch.full((2, 2), 3.0), bias=torch.zeros(2))
    _put(homes[0], 'resnet18_v1c-b5776b93.pth', dict(state_dict=weights))
    load_checkpoint(model, 'open-mmlab://resnet18_v1c', map_location='cpu')
    assert torch.equal(model.weight.data, weights['weight'])


def test_mmcls_names_keep_only_the_backbone(homes):
    from mmengine.runner.checkpoint import _load_checkpoint, get_mmcls_models
    url = get_mmcls_models()['resnet18']
    _put(homes[1], osp.basename(url), dict(state_dict={'backbone.w': torch.ones(1),
                                                       'head.fc': torch.ones(1)}))
    assert list(_load_checkpoint('mmcls://resnet18')['state_dict']) == ['w']


def test_pretrained_init_cfg_goes_through_the_local_lookup(homes):
    class Tiny(BaseModule):
        def __init__(self, init_cfg=None):
            super().__init__(init_cfg)
            self.fc = nn.Linear(2, 1)

    weights = {'fc.weight': torch.full((1, 2), 7.0), 'fc.bias': torch.ones(1)}
    _put(homes[1], 'resnet50-0676ba61.pth', weights)
    module = Tiny(init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'))
    module.init_weights()
    assert torch.equal(module.fc.weight.data, weights['fc.weight'])
