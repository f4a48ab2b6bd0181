"""Equivalence with MMSegmentation 1.2.2 (reference data in tests/data/mmseg_reference).

The data is part of the repository: a missing file fails these tests, it never skips them.
"""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from fcn_mm.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
BASE_CFG = osp.join(REPO, 'configs', '_base_', 'models', 'fcn_r50-d8.py')
REF = osp.join(REPO, 'tests', 'data', 'mmseg_reference')
NARROW = osp.join(REF, 'fcn_r50-d8_narrow')
NEEDED = ['fcn_r50-d8_voc21_keys.json'] + [
    osp.join('fcn_r50-d8_narrow', name) for name in (
        'checkpoint.pth', 'input.npy', 'input_raw_bgr.npy', 'logits.npy', 'aux_logits.npy',
        'seg_logits_full.npy', 'pred.npy', 'gt_label.npy', 'losses.json')]


def test_reference_data_is_in_the_repository():
    missing = [name for name in NEEDED if not osp.isfile(osp.join(REF, name))]
    assert not missing, f'MMSegmentation reference files missing from {REF}: {missing}'


def _voc_model_cfg(narrow: bool = False) -> dict:
    model = Config.fromfile(BASE_CFG).model.to_dict()
    model['pretrained'] = None
    for key in ('backbone', 'decode_head', 'auxiliary_head'):
        model[key]['norm_cfg'] = dict(type='BN', requires_grad=True)
    model['decode_head']['num_classes'] = model['auxiliary_head']['num_classes'] = 21
    if narrow:
        model['backbone'].update(stem_channels=8, base_channels=8)
        model['decode_head'].update(in_channels=256, channels=32)
        model['auxiliary_head'].update(in_channels=128, channels=16)
    return model


def test_state_dict_keys_shapes_and_parameter_count_equal_mmseg():
    ref = json.load(open(osp.join(REF, 'fcn_r50-d8_voc21_keys.json')))
    with torch.device('meta'):
        model = MODELS.build(_voc_model_cfg())
    keys = [[name, list(t.shape)] for name, t in model.state_dict().items()]
    assert keys == ref['keys']
    assert sum(p.numel() for p in model.parameters()) == ref['num_params'] == 49_499_274


@pytest.fixture(scope='module')
def narrow_model():
    model = MODELS.build(_voc_model_cfg(narrow=True))
    ckpt = torch.load(osp.join(NARROW, 'checkpoint.pth'), map_location='cpu', weights_only=True)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    return model.eval()


def _ref(name):
    return torch.from_numpy(np.load(osp.join(NARROW, name)))


def test_narrow_checkpoint_reproduces_logits(narrow_model):
    x = _ref('input.npy')
    with torch.no_grad():
        logits = narrow_model(x, mode='tensor')
        aux = narrow_model.auxiliary_head(narrow_model.extract_feat(x))
    assert (logits - _ref('logits.npy')).abs().max() <= 1e-4
    assert (aux - _ref('aux_logits.npy')).abs().max() <= 1e-4


def test_preprocess_and_predict_reproduce_full_logits_and_pred(narrow_model, make_sample):
    raw = _ref('input_raw_bgr.npy').permute(2, 0, 1).contiguous()
    sample = make_sample(ori_shape=(97, 131), img_shape=(97, 131))
    with torch.no_grad():
        data = narrow_model.data_preprocessor(dict(inputs=[raw], data_samples=[sample]))
        assert (data['inputs'] - _ref('input.npy')).abs().max() <= 1e-4
        out = narrow_model(data['inputs'], data['data_samples'], mode='predict')[0]
    assert (out.seg_logits.data - _ref('seg_logits_full.npy')[0]).abs().max() <= 1e-4
    assert torch.equal(out.pred_sem_seg.data[0], _ref('pred.npy'))


def test_losses_equal_mmseg_in_eval_mode(narrow_model, make_sample):
    ref = json.load(open(osp.join(NARROW, 'losses.json')))
    sample = make_sample(_ref('gt_label.npy').long(), ori_shape=(97, 131), img_shape=(97, 131))
    with torch.no_grad():
        losses = narrow_model(_ref('input.npy'), [sample], mode='loss')
    for key in ('decode.loss_ce', 'decode.acc_seg', 'aux.loss_ce', 'aux.acc_seg'):
        assert losses[key].item() == pytest.approx(ref[key], abs=1e-4), key
    total = losses['decode.loss_ce'] + losses['aux.loss_ce']
    assert total.item() == pytest.approx(ref['loss'], abs=1e-4)
