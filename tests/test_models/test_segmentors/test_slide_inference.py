"""Slide inference: coverage, batching, small images, equality with whole inference."""
import pytest
import torch
from torch import nn

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
    slide = _pointwise_model(dict(mode='slide', crop_size=(32, 24), stride=(20, 16)))
    whole = _pointwise_model(dict(mode='whole'))
    whole.load_state_dict(slide.state_dict())
    x = torch.randn(2, 3, *size)
    metas = [dict(ori_shape=size, img_shape=size, pad_shape=size)] * 2
    with torch.no_grad():
        out_slide = slide.inference(x, metas)
        out_whole = whole.inference(x, metas)
    assert out_slide.shape == (2, 5, *size)
    torch.testing.assert_close(out_slide, out_whole)
    assert slide.backbone.calls == 1  # every window of the batch in one forward


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
