"""--cfg-options values with dicts: parsed safely by the tools' action and load_config."""
import argparse

import pytest
from mmengine.config import Config, DictAction

from fcn_mm.utils.cfg_options import (CfgOptionsAction, parse_option_value,
                                      resolve_cfg_options)
from fcn_mm.utils.config_check import check_config, load_config


def _parse(*items, action=CfgOptionsAction):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=action)
    return parser.parse_args(['--cfg-options', *items]).cfg_options


def test_action_parses_dicts_and_keeps_mmengine_values():
    options = _parse("visualizer.vis_backends=[dict(type='LocalVisBackend'), "
                     "dict(type='TensorboardVisBackend', save_dir='tb')]",
                     'train_cfg.max_iters=300', 'a.b=[x,y]', 'c=(1,2)', 'd=None',
                     "e={'k': -1.5, 'n': (1, [2])}")
    assert options == {
        'visualizer.vis_backends': [dict(type='LocalVisBackend'),
                                    dict(type='TensorboardVisBackend', save_dir='tb')],
        'train_cfg.max_iters': 300, 'a.b': ['x', 'y'], 'c': (1, 2), 'd': None,
        'e': {'k': -1.5, 'n': (1, [2])}}
    # repeated flags add up, as with mmengine's DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    args = parser.parse_args(['--cfg-options', 'a=1', '--cfg-options', "b=dict(t=2)"])
    assert args.cfg_options == {'a': 1, 'b': {'t': 2}}


@pytest.mark.parametrize('text, expected', [
    ("dict(type=Foo)", "a bare name: quote it, e.g. type='Foo'"),
    ("dict(type=__import__('os').system('true'))", 'is not a literal'),
    ("dict(**base)", 'is not a literal'),
    ("[dict(type='A'), open('f')]", "`open('f')` is not a literal"),
    ("dict(type='A'", 'not a valid Python value'),
])
def test_non_literals_are_refused_with_the_key(text, expected):
    with pytest.raises(ValueError, match='--cfg-options custom_hooks=') as info:
        parse_option_value(text, 'custom_hooks')
    assert expected in str(info.value)
    with pytest.raises(SystemExit):
        _parse(f'custom_hooks={text}')


def test_load_config_resolves_dict_text_left_by_mmengine(tiny_config):
    # mmengine's DictAction leaves dict(...) as a string inside the list
    raw = _parse("visualizer.vis_backends=[dict(type='TensorboardVisBackend')]",
                 action=DictAction)
    assert raw == {'visualizer.vis_backends': ["dict(type='TensorboardVisBackend')"]}
    assert resolve_cfg_options(raw) == {
        'visualizer.vis_backends': [{'type': 'TensorboardVisBackend'}]}
    cfg = load_config(tiny_config, cfg_options=raw)
    assert cfg.visualizer.vis_backends == [dict(type='TensorboardVisBackend')]
    check_config(cfg, check_checkpoints=False)  # mmengine's backend resolves
    original = load_config(tiny_config)
    assert original.visualizer.vis_backends == [dict(type='LocalVisBackend')]


def test_load_config_names_the_key_of_a_bad_dict_text(tiny_config):
    with pytest.raises(ValueError,
                       match=r'custom_hooks=dict\(type=EMAHook\): `EMAHook` is not a literal'):
        load_config(tiny_config, cfg_options={'custom_hooks': ['dict(type=EMAHook)']})
    assert isinstance(load_config(Config(dict(a=1)), {'a': 'predict(x)'}).a, str)
