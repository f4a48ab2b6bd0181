"""Gradient accumulation through fcn_mm's optim wrappers.

``accumulative_counts=2`` with batches of 1 must take the step that one batch of 2
takes without accumulation, on a model without batch-dependent layers (the tiny FCN
with GroupNorm and no dropout): fp32 ``OptimWrapper``, and ``AmpOptimWrapper`` in
bf16 (the CPU default) and fp16 with its loss scaler. A non-finite loss inside a
window skips that window's step.
"""
import copy

import pytest
import torch
from mmengine.structures import PixelData

from fcn_mm.engine.optim_wrappers import AmpOptimWrapper, OptimWrapper
from fcn_mm.models.builder import build_offline_model
from fcn_mm.structures import SegDataSample
from fcn_mm.utils.config_check import load_config

TOL = 1e-6
GN = dict(type='GN', num_groups=2, requires_grad=True)


@pytest.fixture(scope='module')
def gn_model(tiny_config):
    cfg = load_config(tiny_config, cfg_options={
        'model.backbone.norm_cfg': GN, 'model.decode_head.norm_cfg': GN,
        'model.auxiliary_head.norm_cfg': GN, 'model.decode_head.dropout_ratio': 0.0,
        'model.auxiliary_head.dropout_ratio': 0.0})
    torch.manual_seed(0)
    return build_offline_model(cfg).train()


@pytest.fixture(scope='module')
def samples():
    gen = torch.Generator().manual_seed(1)
    out = []
    for _ in range(4):
        image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=gen)
        label = torch.randint(0, 21, (1, 32, 32), generator=gen)
        label[:, :2] = 255
        sample = SegDataSample(metainfo=dict(img_shape=(32, 32), ori_shape=(32, 32)))
        sample.gt_sem_seg = PixelData(data=label)
        out.append((image, sample))
    return out


def _batch(items):
    return dict(inputs=[image for image, _ in items],
                data_samples=[copy.deepcopy(sample) for _, sample in items])


WRAPPERS = {
    'fp32': lambda opt, n: OptimWrapper(optimizer=opt, accumulative_counts=n),
    'amp-bf16': lambda opt, n: AmpOptimWrapper(optimizer=opt, dtype='bfloat16',
                                               accumulative_counts=n),
    'amp-fp16-scaler': lambda opt, n: AmpOptimWrapper(
        optimizer=opt, accumulative_counts=n, dtype='float16',
        loss_scale=dict(init_scale=256.0)),
}


def _sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)


def _train(model, make, counts, batches):
    model = copy.deepcopy(model)
    wrapper = make(_sgd(model), counts)
    wrapper.initialize_count_status(model, 0, len(batches))  # as the Runner does
    for batch in batches:
        model.train_step(batch, optim_wrapper=wrapper)
    return model, wrapper


def _max_diff(a, b):
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    return max((pa[k].detach() - pb[k].detach()).abs().max().item() for k in pa)


@pytest.mark.parametrize('kind', list(WRAPPERS))
def test_two_accumulated_batches_of_one_equal_one_batch_of_two(gn_model, samples, kind,
                                                               one_thread):
    make = WRAPPERS[kind]
    accumulated, wrapper = _train(gn_model, make, 2,
                                  [_batch(samples[:1]), _batch(samples[1:2])])
    together, _ = _train(gn_model, make, 1, [_batch(samples[:2])])
    assert _max_diff(accumulated, together) <= TOL
    # the step is real (far above the tolerance) ...
    assert _max_diff(together, gn_model) > 50 * TOL
    # ... and two plain steps of one image (no accumulation) end elsewhere
    two_steps, _ = _train(gn_model, make, 1, [_batch(samples[:1]), _batch(samples[1:2])])
    assert _max_diff(two_steps, together) > 50 * TOL
    assert all(p.grad is None or not p.grad.any() for p in accumulated.parameters())
    if kind == 'amp-fp16-scaler':
        assert wrapper.loss_scaler.get_scale() == 256.0  # no overflow: it stepped


@pytest.mark.parametrize('kind', list(WRAPPERS))
def test_a_nonfinite_loss_skips_the_whole_window(gn_model, samples, kind, one_thread):
    make = WRAPPERS[kind]
    model = copy.deepcopy(gn_model)
    wrapper = make(_sgd(model), 2)
    wrapper.skip_nonfinite = True
    wrapper.initialize_count_status(model, 0, 4)
    before = copy.deepcopy(model)
    for i, item in enumerate(samples):
        with wrapper.optim_context(model):
            data = model.data_preprocessor(_batch([item]), True)
            loss, _ = model.parse_losses(model(**data, mode='loss'))
        if i == 0:  # the first iteration of the first window
            loss = loss * float('nan')
        wrapper.update_params(loss)
        if i == 1:  # end of the spoilt window: no step, its gradients dropped
            assert _max_diff(model, before) == 0
            assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    assert wrapper.nonfinite_skips == 1
    # the second window steps as a clean accumulated window from the same weights
    clean, _ = _train(gn_model, make, 2, [_batch(samples[2:3]), _batch(samples[3:4])])
    assert _max_diff(model, clean) <= TOL
