"""Slide inference: coverage, batching, small images, equality with whole inference."""
import pytest
import torch
from torch import nn

from fcn_mm.models.segmentors import encoder_decoder
from fcn_mm.models.segmentors.encoder_decoder import slide_windows
from fcn_mm.registry import MODELS


@MODELS.register_module(name='_TestPointwiseBackbone', force=True)
class _PointwiseBackbone(nn.Module):
    """Two 1x1 convs: every output pixel depends on its own input pixel only."""

    def __init__(self, channels: int = 6):
        super().__init__()
        self.convs = nn.Sequential(nn.Conv2d(3, channels, 1), nn.ReLU(),
                                   nn.Conv2d(channels, channels, 1))
        self.out_channels = (channels,)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return (self.convs(x),)


def _pointwise_model(test_cfg):
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='EncoderDecoder',
        backbone=dict(type='_TestPointwiseBackbone', channels=6),
        decode_head=dict(type='FCNHead', in_channels=6, channels=6, num_convs=0,
                         concat_input=False, in_index=0, num_classes=5, dropout_ratio=0),
        test_cfg=test_cfg)).eval()


@pytest.mark.parametrize('size', [(64, 64), (50, 77), (17, 90), (12, 10), (33, 33)])
def test_windows_cover_every_pixel_and_share_one_size(size):
    crop, stride = (32, 24), (20, 16)
    windows = slide_windows(*size, crop, stride)
    count = torch.zeros(size)
    for y1, y2, x1, x2 in windows:
        assert 0 <= y1 < y2 <= size[0] and 0 <= x1 < x2 <= size[1]
        count[y1:y2, x1:x2] += 1
    assert count.min() >= 1
    assert len({(y2 - y1, x2 - x1) for y1, y2, x1, x2 in windows}) == 1


@pytest.mark.parametrize('size', [(40, 53), (20, 13), (32, 24)])
def test_pointwise_model_gives_the_same_logits_in_slide_and_whole_mode(size):
    slide = _pointwise_model(dict(mode='slide', crop_size=(32, 24), stride=(20, 16),
                                  windows_per_forward=None))
    whole = _pointwise_model(dict(mode='whole'))
    whole.load_state_dict(slide.state_dict())
    x = torch.randn(2, 3, *size)
    metas = [dict(ori_shape=size, img_shape=size, pad_shape=size)] * 2
    with torch.no_grad():
        out_slide = slide.inference(x, metas)
        out_whole = whole.inference(x, metas)
    assert out_slide.shape == (2, 5, *size)
    torch.testing.assert_close(out_slide, out_whole)
    assert slide.backbone.calls == 1  # None: every window of the batch in one forward
    windows = len(slide_windows(max(size[0], 32), max(size[1], 24), (32, 24), (20, 16)))
    del slide.test_cfg['windows_per_forward']  # the default: one window per forward
    slide.backbone.calls = 0
    with torch.no_grad():
        torch.testing.assert_close(slide.inference(x, metas), out_whole)
    assert slide.backbone.calls == windows


def test_slide_predict_returns_the_original_size(tiny_fcn_cfg, make_sample):
    model = MODELS.build(tiny_fcn_cfg(test_cfg=dict(mode='slide', crop_size=(24, 24),
                                                    stride=(16, 16)))).eval()
    x = torch.rand(1, 3, 37, 29)
    sample = make_sample(ori_shape=(37, 29), img_shape=(37, 29))
    with torch.no_grad():
        out = model.predict(x, [sample])[0]
        small = model.predict(torch.rand(1, 3, 15, 20),
                              [make_sample(ori_shape=(30, 40), img_shape=(15, 20))])[0]
    assert out.seg_logits.data.shape == (4, 37, 29)
    assert out.pred_sem_seg.data.shape == (1, 37, 29)
    assert small.pred_sem_seg.data.shape == (1, 30, 40)
    assert out.img_shape == (37, 29)  # the windows' img_shape does not leak into the metas


def _window_by_window(model, x, crop, stride):
    """Independent slide result: each window alone through the network, mean per pixel."""
    _, _, height, width = x.shape
    total = torch.zeros(x.shape[0], model.out_channels, height, width, dtype=torch.float64)
    count = torch.zeros(1, 1, height, width, dtype=torch.float64)
    for y1, y2, x1, x2 in slide_windows(height, width, crop, stride):
        window = x[:, :, y1:y2, x1:x2]
        metas = [dict(img_shape=window.shape[2:])] * x.shape[0]
        total[:, :, y1:y2, x1:x2] += model.encode_decode(window, metas).double()
        count[:, :, y1:y2, x1:x2] += 1
    return (total / count).float()


@pytest.mark.parametrize('per_forward', [None, 1, 2, 5, 100])
def test_batched_windows_give_the_logits_of_window_by_window(tiny_fcn_cfg, per_forward):
    crop, stride = (24, 20), (16, 12)
    test_cfg = dict(mode='slide', crop_size=crop, stride=stride,
                    windows_per_forward=per_forward)
    torch.manual_seed(0)
    model = MODELS.build(tiny_fcn_cfg(test_cfg=test_cfg)).eval()
    x = torch.randn(2, 3, 41, 50)  # 3 x 4 windows
    metas = [dict(ori_shape=(41, 50), img_shape=(41, 50), pad_shape=(41, 50))] * 2
    with torch.no_grad():
        expected = _window_by_window(model, x, crop, stride)
        calls = []
        handle = model.backbone.register_forward_pre_hook(
            lambda module, args: calls.append(args[0].shape[0]))
        out = model.inference(x, metas)
        handle.remove()
    assert out.shape == (2, 4, 41, 50) and out.dtype == torch.float32
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    per_image = 12 if per_forward is None else min(per_forward, 12)
    assert calls[0] == 2 * per_image  # windows of both images in one forward
    assert sum(calls) == 2 * 12


def test_window_count_is_computed_once_per_image_size(tiny_fcn_cfg, monkeypatch):
    made = []
    real = encoder_decoder.window_count
    monkeypatch.setattr(encoder_decoder, 'window_count',
                        lambda *args, **kwargs: made.append(args[:2]) or real(*args, **kwargs))
    model = MODELS.build(tiny_fcn_cfg(test_cfg=dict(
        mode='slide', crop_size=(16, 16), stride=(12, 12), windows_per_forward=3))).eval()
    with torch.no_grad():
        for size in [(30, 30), (30, 30), (20, 36), (30, 30), (10, 12)]:
            x = torch.randn(1, 3, *size)
            model.inference(x, [dict(ori_shape=size, img_shape=size, pad_shape=size)])
    # (10, 12) is padded to the 16x16 crop first
    assert made == [(30, 30), (20, 36), (16, 16)]


def test_window_count_of_overlapping_windows_and_an_uncovered_pixel():
    windows = slide_windows(5, 7, (3, 4), (2, 3))
    count = encoder_decoder.window_count(5, 7, windows)
    expected = torch.zeros(5, 7)
    for y1, y2, x1, x2 in windows:
        expected[y1:y2, x1:x2] += 1
    assert count.shape == (1, 1, 5, 7) and torch.equal(count[0, 0], expected)
    assert count.max() > 1
    with pytest.raises(RuntimeError, match='uncovered'):
        encoder_decoder.window_count(5, 7, [(0, 5, 0, 6)])


@pytest.mark.parametrize('value', [0, -2, 1.5, True, '4'])
def test_bad_windows_per_forward_is_rejected(tiny_fcn_cfg, value):
    test_cfg = dict(mode='slide', crop_size=(16, 16), stride=(8, 8), windows_per_forward=value)
    with pytest.raises(ValueError, match='test_cfg.windows_per_forward must be a positive int'):
        MODELS.build(tiny_fcn_cfg(test_cfg=test_cfg))
