"""FCNHead / BaseDecodeHead: structure, input transforms, loss and predict rules, errors."""
import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import nn

from fcn_mm.registry import MODELS

BN = dict(type='BN')


def _head(**kwargs):
    cfg = dict(type='FCNHead', in_channels=8, channels=4, num_classes=3, norm_cfg=BN)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_fcn_head_layers_and_output_shape():
    head = _head(in_channels=32, channels=8, num_convs=2, concat_input=True, in_index=3)
    assert len(head.convs) == 2 and all(isinstance(c, ConvModule) for c in head.convs)
    assert head.convs[0].conv.weight.shape == (8, 32, 3, 3)
    assert head.convs[0].conv.bias is None and hasattr(head.convs[0], 'bn')
    assert head.conv_cat.conv.weight.shape == (8, 40, 3, 3)
    assert head.conv_seg.weight.shape == (3, 8, 1, 1)
    assert isinstance(head.dropout, nn.Dropout2d) and head.dropout.p == 0.1
    feats = [torch.rand(2, c, 5, 7) for c in (4, 8, 16, 32)]
    assert head(feats).shape == (2, 3, 5, 7)


def test_dilation_and_kernel_size_set_padding():
    head = _head(num_convs=1, kernel_size=3, dilation=2, concat_input=False)
    assert head.convs[0].conv.dilation == (2, 2) and head.convs[0].conv.padding == (2, 2)
    assert not hasattr(head, 'conv_cat')


def test_num_convs_zero_needs_equal_channels():
    head = _head(in_channels=6, channels=6, num_convs=0, concat_input=False)
    assert isinstance(head.convs, nn.Identity)
    assert head([torch.rand(1, 6, 4, 4)]).shape == (1, 3, 4, 4)
    with pytest.raises(ValueError, match=r'in_channels \(8\) must equal channels \(4\)'):
        _head(num_convs=0)
    with pytest.raises(ValueError, match='num_convs'):
        _head(num_convs=-1)


def test_resize_concat_input_transform():
    head = _head(in_channels=[2, 4], in_index=[0, 1], input_transform='resize_concat',
                 channels=4, num_convs=1, concat_input=False)
    assert head.in_channels == 6 and head.input_channels == [2, 4]
    out = head([torch.rand(1, 2, 8, 8), torch.rand(1, 4, 4, 4)])
    assert out.shape == (1, 3, 8, 8)
    with pytest.raises(TypeError, match='must be lists'):
        _head(in_channels=6, in_index=[0, 1], input_transform='resize_concat')
    with pytest.raises(ValueError, match='input_transform'):
        _head(input_transform='concat')


def test_loss_resizes_logits_once_then_ce_and_accuracy():
    torch.manual_seed(0)
    head = _head(in_channels=4, channels=4, num_convs=0, concat_input=False, in_index=0)
    logits = torch.randn(2, 3, 4, 5)
    label = torch.randint(0, 3, (2, 1, 8, 10))
    label[:, :, :2] = 255
    samples = [_with_gt(label[i]) for i in range(2)]
    losses = head.loss_by_feat(logits, samples)
    up = F.interpolate(logits, size=(8, 10), mode='bilinear', align_corners=False)
    flat_label = label.squeeze(1)
    per_pixel = F.cross_entropy(up, flat_label, ignore_index=255, reduction='none')
    torch.testing.assert_close(losses['loss_ce'], per_pixel.sum() / flat_label.numel())
    valid = flat_label != 255
    acc = (up.argmax(1)[valid] == flat_label[valid]).float().mean() * 100
    torch.testing.assert_close(losses['acc_seg'], acc.reshape(1))


def test_losses_with_the_same_name_are_summed():
    loss_decode = [dict(type='CrossEntropyLoss', loss_weight=1.0),
                   dict(type='CrossEntropyLoss', loss_weight=0.5),
                   dict(type='CrossEntropyLoss', loss_weight=2.0, loss_name='loss_other')]
    head = _head(in_channels=4, channels=4, num_convs=0, concat_input=False, in_index=0,
                 loss_decode=loss_decode)
    logits = torch.randn(1, 3, 4, 4)
    losses = head.loss_by_feat(logits, [_with_gt(torch.randint(0, 3, (1, 4, 4)))])
    assert set(losses) == {'loss_ce', 'loss_other', 'acc_seg'}
    torch.testing.assert_close(losses['loss_ce'] * 2 / 1.5, losses['loss_other'])


def test_predict_resizes_to_the_input_size():
    head = _head(in_channels=4, channels=4, num_convs=0, concat_input=False, in_index=0).eval()
    feats = [torch.rand(1, 4, 3, 4)]
    out = head.predict(feats, [dict(img_shape=(20, 30), pad_shape=(24, 32))], {})
    assert out.shape == (1, 3, 24, 32)
    out = head.predict(feats, [dict(img_shape=torch.Size((12, 16)), pad_shape=(24, 32))], {})
    assert out.shape == (1, 3, 12, 16)


def test_output_channel_rules_and_sampler():
    with pytest.raises(ValueError, match='out_channels=5 and num_classes=3'):
        _head(out_channels=5)
    with pytest.warns(UserWarning, match='threshold'):
        binary = _head(num_classes=2, out_channels=1,
                       loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=True))
    assert binary.threshold == 0.3 and binary.conv_seg.out_channels == 1
    head = _head(sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=2))
    assert type(head.sampler).__name__ == 'OHEMPixelSampler' and head.sampler.context is head
    with pytest.raises(TypeError, match='decode_head.sampler'):
        _head(sampler='OHEMPixelSampler')
    with pytest.raises(ValueError, match='min_kept must be > 1'):
        _head(sampler=dict(type='OHEMPixelSampler', min_kept=1))


def test_conv_seg_init_is_normal_std_001():
    torch.manual_seed(0)
    head = _head(in_channels=64, channels=64, num_classes=64, num_convs=0, concat_input=False)
    head.init_weights()
    assert abs(head.conv_seg.weight.std().item() - 0.01) < 0.002
    assert torch.all(head.conv_seg.bias == 0)


def _with_gt(label):
    from mmengine.structures import PixelData

    from fcn_mm.structures import SegDataSample
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=label.reshape(1, *label.shape[-2:]).long())
    return sample
