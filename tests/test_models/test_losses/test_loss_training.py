"""Two training iterations of the tiny FCN (tests/configs/fcn_r18-tiny_32x32.py) per loss,
with and without the OHEM sampler, on demo shapes; and the same-name rule of loss_decode."""
import copy
import warnings

import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData

from fcn_mm.datasets.demo_data import DEMO_CLASSES, draw_demo_sample
from fcn_mm.registry import MODELS
from fcn_mm.structures import SegDataSample
from fcn_mm.utils.config_check import load_config

CE = dict(type='CrossEntropyLoss', avg_non_ignore=True)
SAMPLER = dict(type='OHEMPixelSampler', thresh=0.7, min_kept=200)
TOPK = dict(type='OHEMPixelSampler', thresh=None, min_kept=200)

# name: (decode-head losses, sampler, binary head)
RECIPES = {
    'ce_dice': ([CE, dict(type='DiceLoss', use_sigmoid=False, loss_weight=0.5)], None, False),
    'focal': ([dict(type='FocalLoss', gamma=2.0, alpha=0.25)], None, False),
    'focal_softmax': ([dict(type='FocalLoss', use_sigmoid=False)], None, False),
    'lovasz': ([dict(type='LovaszLoss', per_image=True)], None, False),
    'tversky': ([dict(type='TverskyLoss', alpha=0.3, beta=0.7)], None, False),
    'ohem_ce': ([dict(type='OhemCrossEntropy', thres=0.7, min_kept=200)], None, False),
    'sampler_thresh': ([CE, dict(type='DiceLoss')], SAMPLER, False),
    'sampler_topk': ([CE, dict(type='FocalLoss')], TOPK, False),
    'binary': ([dict(CE, use_sigmoid=True), dict(type='DiceLoss'),
                dict(type='LovaszLoss', loss_type='binary', reduction='none'),
                dict(type='FocalLoss')], SAMPLER, True),
}


@pytest.fixture(scope='module')
def tiny_cfg(tiny_config):
    return load_config(tiny_config)


def _batch(binary: bool):
    """Two 32x32 demo-shape samples, a border of ignored pixels (255)."""
    inputs, samples = [], []
    for seed in (1, 2):
        image, label = draw_demo_sample(np.random.default_rng(seed), 32)
        label = label.astype(np.int64)
        if binary:
            label = (label > 0).astype(np.int64)
        label[:2] = 255
        inputs.append(torch.from_numpy(image.copy()).permute(2, 0, 1))
        sample = SegDataSample(metainfo=dict(img_shape=(32, 32), ori_shape=(32, 32)))
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(label)[None])
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _model(tiny_cfg, losses, sampler, binary):
    cfg = copy.deepcopy(tiny_cfg.model.to_dict())
    num_classes = 2 if binary else len(DEMO_CLASSES)
    for key, weight in (('decode_head', 1.0), ('auxiliary_head', 0.4)):
        cfg[key].update(num_classes=num_classes, sampler=sampler,
                        loss_decode=[dict(loss, loss_weight=weight * loss.get('loss_weight', 1))
                                     for loss in losses])
        if binary:
            cfg[key].update(out_channels=1, threshold=0.3)
    return MODELS.build(cfg)


@pytest.mark.parametrize('recipe', sorted(RECIPES))
def test_two_training_iterations(tiny_cfg, recipe):
    losses, sampler, binary = RECIPES[recipe]
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = _model(tiny_cfg, losses, sampler, binary)
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    before = model.decode_head.conv_seg.weight.detach().clone()
    data = _batch(binary)
    names = {MODELS.build(loss).loss_name for loss in losses}
    for _ in range(2):
        log_vars = model.train_step(data, optim_wrapper)
    expected = {f'{head}.{name}' for head in ('decode', 'aux') for name in names}
    assert expected <= set(log_vars), sorted(log_vars)
    values = {k: float(torch.as_tensor(v).detach()) for k, v in log_vars.items()}
    assert all(np.isfinite(values[k]) and values[k] >= 0 for k in expected), values
    assert values['loss'] == pytest.approx(sum(values[k] for k in expected), rel=1e-4)
    assert not torch.equal(before, model.decode_head.conv_seg.weight)
    model.eval()
    with torch.no_grad():
        pred = model.test_step(data)[0].pred_sem_seg.data
    assert pred.shape == (1, 32, 32) and int(pred.max()) < (2 if binary else len(DEMO_CLASSES))


def test_losses_of_one_name_are_summed_and_the_sampler_weights_them(tiny_cfg):
    """MMSegmentation's rule: the values of losses with the same loss_name add up."""
    same = [dict(CE, loss_name='loss_mix'), dict(type='DiceLoss', loss_name='loss_mix')]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        head = _model(tiny_cfg, same, None, False).decode_head
        sampled = _model(tiny_cfg, [CE], SAMPLER, False).decode_head
    data = _batch(False)
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, len(DEMO_CLASSES), 4, 4, generator=gen) * 5
    losses = head.loss_by_feat(logits, data['data_samples'])
    assert set(losses) == {'loss_mix', 'acc_seg'}
    full = torch.nn.functional.interpolate(logits, size=(32, 32), mode='bilinear')
    label = torch.stack([s.gt_sem_seg.data[0] for s in data['data_samples']])
    ce, dice = (MODELS.build(cfg)(full, label, ignore_index=255) for cfg in same)
    torch.testing.assert_close(losses['loss_mix'], ce + dice)
    # with the sampler, CE sees only the kept pixels: the mean over them
    kept = sampled.sampler.sample(full, label[:, None])
    assert 0 < kept.sum() < (label != 255).sum()
    per_pixel = torch.nn.functional.cross_entropy(full, label, ignore_index=255,
                                                  reduction='none')
    torch.testing.assert_close(sampled.loss_by_feat(logits, data['data_samples'])['loss_ce'],
                               (per_pixel * kept).sum() / (label != 255).sum())


def test_binary_head_accuracy_uses_the_threshold(tiny_cfg):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        head = _model(tiny_cfg, [dict(CE, use_sigmoid=True)], None, True).decode_head
    data = _batch(True)
    label = torch.stack([s.gt_sem_seg.data[0] for s in data['data_samples']])
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 1, 32, 32, generator=gen)
    pred = (logits[:, 0].sigmoid() > head.threshold).long()
    valid = label != 255
    expected = 100.0 * (pred == label)[valid].float().mean()
    assert 0 < expected < 100
    acc = head.loss_by_feat(logits, data['data_samples'])['acc_seg']
    assert acc.item() == pytest.approx(expected.item(), rel=1e-5)
