"""The config check accepts every MMSegmentation 1.2.2 option of the losses and the sampler.

The option lists come from MMSegmentation 1.2.2's signatures (``options`` in
tests/data/mmseg_reference/losses/cases.json, written by make_loss_reference.py).
"""
import json
import os.path as osp

import pytest

from fcn_mm.utils.config_check import check_config

with open(osp.join(osp.dirname(__file__), '..', '..', 'data', 'mmseg_reference', 'losses',
                   'cases.json'), encoding='utf-8') as f:
    OPTIONS = json.load(f)['options']
LOSSES = sorted(name for name in OPTIONS if name != 'OHEMPixelSampler')


def _cfg(tiny_fcn_cfg, loss_decode, sampler=None):
    model = tiny_fcn_cfg()
    model['decode_head'].update(loss_decode=loss_decode, sampler=sampler)
    model['auxiliary_head']['loss_decode'] = [loss_decode[0]]
    return dict(model=model, default_scope='fcn_mm')


def test_every_mmseg_option_is_accepted(tiny_fcn_cfg):
    assert len(LOSSES) == 6 and all(OPTIONS[name] for name in LOSSES)
    losses = [dict(type=name, **OPTIONS[name]) for name in LOSSES]
    sampler = dict(type='OHEMPixelSampler', **OPTIONS['OHEMPixelSampler'])
    check_config(_cfg(tiny_fcn_cfg, losses, sampler), check_checkpoints=False)


@pytest.mark.parametrize('name', LOSSES + ['OHEMPixelSampler'])
def test_a_misspelt_option_is_named_with_the_closest_key(tiny_fcn_cfg, name):
    key = max(OPTIONS[name], key=len)           # e.g. avg_non_ignore -> avg_non_ignor
    options = dict(OPTIONS[name])
    options[key[:-1]] = options.pop(key)
    if name == 'OHEMPixelSampler':
        cfg, where = _cfg(tiny_fcn_cfg, [dict(type='CrossEntropyLoss')],
                          dict(type=name, **options)), 'model.decode_head.sampler'
    else:
        cfg, where = _cfg(tiny_fcn_cfg, [dict(type='CrossEntropyLoss'),
                                         dict(type=name, **options)]), \
            'model.decode_head.loss_decode[1]'
    with pytest.raises(TypeError) as info:
        check_config(cfg, check_checkpoints=False)
    message = str(info.value)
    assert f'`{where}.{key[:-1]}`' in message and f"Did you mean: '{key}'" in message
