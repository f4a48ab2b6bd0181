"""SegDataPreProcessor: conversion, normalisation, padding, stacking, metainfo."""
import pytest
import torch

from fcn_mm.registry import MODELS

MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def _pre(**kwargs):
    return MODELS.build(dict(type='SegDataPreProcessor', mean=MEAN, std=STD, bgr_to_rgb=True,
                             **kwargs))


def test_bgr_to_rgb_and_normalisation():
    img = torch.randint(0, 256, (3, 5, 6), dtype=torch.uint8)
    out = _pre()(dict(inputs=[img], data_samples=None))['inputs']
    expected = (img.flip(0).float() - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(
        STD).view(3, 1, 1)
    torch.testing.assert_close(out[0], expected)
    assert 'mean' not in _pre().state_dict() and 'std' not in _pre().state_dict()


def test_training_pads_images_and_labels_to_size(make_sample):
    imgs = [torch.full((3, 4, 5), 100, dtype=torch.uint8),
            torch.full((3, 6, 3), 100, dtype=torch.uint8)]
    samples = [make_sample(torch.ones(4, 5)), make_sample(torch.ones(6, 3))]
    out = _pre(size=(8, 8), pad_val=0, seg_pad_val=255)(
        dict(inputs=imgs, data_samples=samples), training=True)
    assert out['inputs'].shape == (2, 3, 8, 8)
    assert torch.all(out['inputs'][0, :, 4:] == 0) and torch.all(out['inputs'][1, :, :, 3:] == 0)
    first = out['data_samples'][0]
    assert first.gt_sem_seg.data.shape == (1, 8, 8)
    assert torch.all(first.gt_sem_seg.data[:, 4:] == 255)
    assert torch.all(first.gt_sem_seg.data[:, :4, :5] == 1)
    assert tuple(first.img_shape) == (4, 5) and tuple(first.pad_shape) == (8, 8)
    assert tuple(first.padding_size) == (0, 3, 0, 4)


def test_training_size_divisor_pads_to_a_multiple_of_the_batch_max(make_sample):
    imgs = [torch.zeros(3, 9, 5, dtype=torch.uint8), torch.zeros(3, 7, 13, dtype=torch.uint8)]
    samples = [make_sample(torch.zeros(9, 5)), make_sample(torch.zeros(7, 13))]
    out = _pre(size_divisor=8)(dict(inputs=imgs, data_samples=samples), training=True)
    assert out['inputs'].shape == (2, 3, 16, 16)
    assert tuple(out['data_samples'][1].padding_size) == (0, 3, 0, 9)


def test_different_training_sizes_without_size_are_a_clear_error(make_sample):
    imgs = [torch.zeros(3, 9, 5, dtype=torch.uint8), torch.zeros(3, 7, 13, dtype=torch.uint8)]
    samples = [make_sample(torch.zeros(9, 5)), make_sample(torch.zeros(7, 13))]
    with pytest.raises(ValueError, match=r'different sizes.*data_preprocessor\.size'):
        _pre()(dict(inputs=imgs, data_samples=samples), training=True)
    with pytest.raises(ValueError, match='only one of size and size_divisor'):
        _pre(size=(8, 8), size_divisor=8)


def test_testing_pads_with_test_cfg_and_the_segmentor_crops_it_back(tiny_fcn_cfg, make_sample):
    cfg = tiny_fcn_cfg()
    cfg['data_preprocessor']['test_cfg'] = dict(size_divisor=16)
    model = MODELS.build(cfg).eval()
    img = torch.randint(0, 256, (3, 20, 27), dtype=torch.uint8)
    sample = make_sample(ori_shape=(20, 27), img_shape=(20, 27))
    data = model.data_preprocessor(dict(inputs=[img], data_samples=[sample]))
    assert data['inputs'].shape == (1, 3, 32, 32)
    assert tuple(data['data_samples'][0].img_padding_size) == (0, 5, 0, 12)
    with torch.no_grad():
        out = model(**data, mode='predict')[0]
    assert out.seg_logits.data.shape[1:] == (20, 27)
    with pytest.raises(ValueError, match='test images of different sizes'):
        _pre()(dict(inputs=[img, img[:, :10]], data_samples=None))
