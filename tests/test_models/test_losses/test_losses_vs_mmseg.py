"""Each loss and the OHEM sampler against MMSegmentation 1.2.2 (tests/data/mmseg_reference/losses).

The reference data is made by make_loss_reference.py beside it (its docstring says where
MMSegmentation's own function stands in for a path that fails on CPU). Value and input
gradient agree within 1e-5 relative (gradient entries within 1e-5 of the largest one).
"""
import json
import os.path as osp
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from fcn_mm.models.samplers import OHEMPixelSampler
from fcn_mm.registry import MODELS

DATA = osp.join(osp.dirname(__file__), '..', '..', 'data', 'mmseg_reference', 'losses')


def _load():
    with open(osp.join(DATA, 'cases.json'), encoding='utf-8') as f:
        meta = json.load(f)
    inputs = dict(np.load(osp.join(DATA, 'inputs.npz')))
    reference = dict(np.load(osp.join(DATA, 'reference.npz')))
    return meta, inputs, reference


META, INPUTS, REFERENCE = _load()  # missing data fails at collection, never skips
CASES = {c['name']: c for c in META['cases']}


def test_reference_covers_every_loss_and_option():
    types = {c['loss']['type'] for c in META['cases']}
    assert types == {'CrossEntropyLoss', 'DiceLoss', 'FocalLoss', 'LovaszLoss', 'TverskyLoss',
                     'OhemCrossEntropy'}
    names = set(CASES)
    for family in ('ce', 'bce1', 'bce4', 'dice4', 'focal4', 'lovasz4', 'lovasz1', 'tversky4',
                   'ohemce4'):
        for tag in ('ign', 'noign'):
            assert any(n.startswith(f'{family}_{tag}') for n in names), (family, tag)
    assert META['mmseg_version'] == '1.2.2'


def _tensor(key):
    value = torch.from_numpy(INPUTS[key])
    return value.long() if value.dtype in (torch.int64, torch.int32) else value


@pytest.mark.parametrize('name', sorted(CASES))
def test_value_and_gradient_match_mmseg(name):
    spec = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        loss = MODELS.build(spec['loss'])
    logits = _tensor(spec['logits']).requires_grad_(True)
    call = {k: _tensor(v) if isinstance(v, str) else v for k, v in spec['call'].items()}
    value = loss(logits, _tensor(spec['labels']), **call)
    value.backward()
    expected = float(REFERENCE[f'{name}/value'])
    assert value.item() == pytest.approx(expected, rel=1e-5, abs=1e-7), spec['path']
    grad_ref = REFERENCE[f'{name}/grad']
    np.testing.assert_allclose(logits.grad.numpy(), grad_ref, rtol=1e-5,
                               atol=1e-5 * float(np.abs(grad_ref).max()))
    assert np.abs(grad_ref).max() > 0  # the case has a gradient to compare


class _Head(nn.Module):
    """The attributes of a decode head that the sampler reads."""

    def __init__(self):
        super().__init__()
        self.ignore_index = 255
        self.loss_decode = MODELS.build(dict(type='CrossEntropyLoss', avg_non_ignore=False))


@pytest.mark.parametrize('spec', META['sampler_cases'], ids=lambda s: s['name'])
def test_ohem_sampler_keeps_the_pixels_mmseg_keeps(spec):
    sampler = OHEMPixelSampler(_Head(), thresh=spec['thresh'], min_kept=spec['min_kept'])
    label = _tensor(spec['labels'])
    kept = sampler.sample(_tensor(spec['logits']), label.unsqueeze(1))
    expected = REFERENCE['sampler/' + spec['name']]
    assert 0 < expected.sum() < (label != 255).sum()  # a selection, not all or nothing
    np.testing.assert_array_equal(kept.numpy().astype(np.uint8), expected)
