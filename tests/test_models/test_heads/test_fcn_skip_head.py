"""FCNSkipHead and its bilinear upsamplers: kernels, freezing, sizes, the segmentor paths."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper

from fcn_mm.models.utils import BilinearConvTranspose2d, bilinear_kernel
from fcn_mm.registry import MODELS

SKIP_CHANNELS = {'32s': [], '16s': [16], '8s': [8, 16]}  # VGG16 at base 2: pool3 8, pool4 16
OUT_INDICES = {'32s': (5, ), '16s': (3, 5), '8s': (2, 3, 5)}


def _segmentor(arch='8s', alignment='aligned', frozen_upsample='last', num_classes=3,
               test_cfg=None, **head):
    caffe = alignment == 'caffe'
    return MODELS.build(dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[104.0, 117.0, 123.0],
                               std=[1.0, 1.0, 1.0]),
        backbone=dict(type='VGG', base_channels=2, out_indices=OUT_INDICES[arch],
                      first_conv_padding=100 if caffe else 1, fc_channels=8,
                      fc6_kernel_size=7 if caffe else 3, fc6_padding=0 if caffe else 1,
                      fc_dropout=0.0, return_input=True),
        decode_head=dict(type='FCNSkipHead', arch=arch, alignment=alignment,
                         in_channels=[3, *SKIP_CHANNELS[arch], 8],
                         in_index=list(range(len(SKIP_CHANNELS[arch]) + 2)), channels=8,
                         num_classes=num_classes, frozen_upsample=frozen_upsample, **head),
        test_cfg=test_cfg or dict(mode='whole')))


def _randomise_head(model):
    torch.manual_seed(1)
    for name, param in model.decode_head.named_parameters():
        if name.startswith('score'):  # start non-zero, so that the logits depend on the input
            param.data.normal_(std=0.5)


def test_bilinear_kernel_values():
    kernel = bilinear_kernel(2, 4)
    profile = torch.tensor([0.25, 0.75, 0.75, 0.25])
    torch.testing.assert_close(kernel[0, 0], profile[:, None] * profile[None, :])
    torch.testing.assert_close(kernel[1, 1], kernel[0, 0])
    assert kernel[0, 1].abs().sum() == 0 and kernel[1, 0].abs().sum() == 0
    odd = bilinear_kernel(1, 3)[0, 0]  # f = 2, centre 1: profile 0.5, 1, 0.5
    torch.testing.assert_close(odd[1], torch.tensor([0.5, 1.0, 0.5]))


@pytest.mark.parametrize('stride', [2, 8, 16, 32])
def test_bilinear_upsampler_reproduces_bilinear_interpolation_of_a_ramp(stride):
    rows, cols = torch.meshgrid(torch.arange(7.0), torch.arange(9.0), indexing='ij')
    ramp = torch.stack([0.3 * rows + 0.7 * cols, 2.0 - 0.5 * rows + 0.1 * cols])[None]
    layer = BilinearConvTranspose2d(2, stride, padding=stride // 2)
    with torch.no_grad():
        got = layer(ramp)
    expected = F.interpolate(ramp, scale_factor=stride, mode='bilinear',
                             align_corners=False)
    assert got.shape == expected.shape == (1, 2, 7 * stride, 9 * stride)
    inner = (slice(None), slice(None), slice(stride, -stride), slice(stride, -stride))
    torch.testing.assert_close(got[inner], expected[inner], atol=1e-4, rtol=0)
    # near the border they differ: the layer sees zero padding, interpolate clamps
    assert (got[..., 0, 0] - expected[..., 0, 0]).abs().max() > 0.01


def test_unpadded_upsampler_is_the_padded_one_shifted():
    """The Caffe layout (no padding) computes the same map, offset by stride / 2."""
    x = torch.randn(1, 2, 5, 6)
    with torch.no_grad():
        caffe = BilinearConvTranspose2d(2, 8)(x)
        padded = BilinearConvTranspose2d(2, 8, padding=4)(x)
    assert caffe.shape == (1, 2, 4 * 8 + 16, 5 * 8 + 16)
    torch.testing.assert_close(caffe[:, :, 4:-4, 4:-4], padded)


def test_upsampler_is_bilinear_on_the_meta_device():
    with torch.device('meta'):
        layer = BilinearConvTranspose2d(21, 32)
    assert layer.weight.is_meta and layer.weight.shape == (21, 21, 64, 64)
    assert layer.bias is None


def _train_step(model, steps=1):
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9,
                                         weight_decay=0.01))
    image = torch.randint(0, 256, (3, 24, 20), dtype=torch.uint8)
    label = (torch.arange(24)[:, None] > 11).long().expand(24, 20) * 2
    from mmengine.structures import PixelData

    from fcn_mm.structures import SegDataSample
    sample = SegDataSample(metainfo=dict(img_shape=(24, 20), ori_shape=(24, 20)))
    sample.gt_sem_seg = PixelData(data=label[None])
    model.train()
    return [model.train_step(dict(inputs=[image], data_samples=[sample]), optim)
            for _ in range(steps)]


@pytest.mark.parametrize('frozen_upsample, frozen', [
    ('last', {'upscore8'}), ('all', {'upscore2', 'upscore_pool4', 'upscore8'}),
    ('none', set())])
def test_frozen_upsamplers_stay_unchanged_after_a_training_step(frozen_upsample, frozen):
    model = _segmentor(frozen_upsample=frozen_upsample)
    _randomise_head(model)
    head = model.decode_head
    before = {name: getattr(head, name).weight.detach().clone()
              for name in ('upscore2', 'upscore_pool4', 'upscore8')}
    _train_step(model)
    for name, weight in before.items():
        layer = getattr(head, name)
        assert layer.weight.requires_grad == (name not in frozen)
        changed = not torch.equal(layer.weight, weight)
        assert changed == (name not in frozen), name
    torch.testing.assert_close(before['upscore8'], bilinear_kernel(3, 16))


def test_training_lowers_the_loss_and_logs_only_decode_keys():
    model = _segmentor()
    _randomise_head(model)
    logs = _train_step(model, steps=15)
    assert set(logs[0]) == {'loss', 'decode.loss_ce', 'decode.acc_seg'}
    assert logs[-1]['decode.loss_ce'] < 0.5 * logs[0]['decode.loss_ce']


@pytest.mark.parametrize('alignment', ['caffe', 'aligned'])
@pytest.mark.parametrize('arch', ['32s', '16s', '8s'])
def test_logits_have_the_input_size_and_pass_through_predict(arch, alignment):
    model = _segmentor(arch, alignment).eval()
    _randomise_head(model)
    for height, width in [(1, 1), (31, 5), (64, 64), (97, 131)]:
        image = torch.randint(0, 256, (3, height, width), dtype=torch.uint8)
        data = model.data_preprocessor(dict(inputs=[image]), False)
        with torch.no_grad():
            tensor = model(data['inputs'], mode='tensor')
            predicted = model(data['inputs'], mode='predict')[0]
        assert tensor.shape == (1, 3, height, width)
        assert torch.equal(predicted.seg_logits.data, tensor[0])  # no resize on the way


def test_slide_inference_averages_the_windows_logits():
    model = _segmentor(test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16)))
    model.eval()
    _randomise_head(model)
    inputs = torch.randn(1, 3, 48, 40) * 50
    with torch.no_grad():
        got = model.inference(inputs, [dict(ori_shape=(48, 40), img_shape=(48, 40))])
        total, count = torch.zeros(1, 3, 48, 40), torch.zeros(1, 1, 48, 40)
        for y in (0, 16):
            for x in (0, 8):
                total[:, :, y:y + 32, x:x + 32] += model(inputs[:, :, y:y + 32, x:x + 32])
                count[:, :, y:y + 32, x:x + 32] += 1
    torch.testing.assert_close(got, total / count)


def test_tta_merges_the_flipped_view_at_the_input_size(make_sample):
    model = _segmentor(alignment='caffe').eval()
    _randomise_head(model)
    tta = MODELS.build(dict(type='SegTTAModel', module=model)).eval()
    image = torch.randint(0, 256, (3, 21, 26), dtype=torch.uint8)
    meta = dict(ori_shape=(21, 26), img_shape=(21, 26))
    views = dict(inputs=[[image], [image.flip(2)]],
                 data_samples=[[make_sample(**meta)],
                               [make_sample(flip=True, flip_direction='horizontal', **meta)]])
    with torch.no_grad():
        merged = tta.test_step(views)[0]
        mean = torch.tensor([104.0, 117.0, 123.0]).view(1, 3, 1, 1)
        plain = model(image[None].float() - mean)[0].softmax(0)
        flipped = model(image.flip(2)[None].float() - mean)[0].flip(2).softmax(0)
    torch.testing.assert_close(merged.seg_logits.data, (plain + flipped) / 2)
    assert merged.pred_sem_seg.data.shape == (1, 21, 26)


def test_keys_are_the_caffe_layer_names():
    keys = {arch: sorted(k for k in _segmentor(arch).state_dict() if 'decode_head' in k)
            for arch in ('32s', '16s', '8s')}
    assert keys['32s'] == ['decode_head.score_fr.bias', 'decode_head.score_fr.weight',
                           'decode_head.upscore.weight']
    assert keys['16s'] == sorted(['decode_head.score_fr.weight', 'decode_head.score_fr.bias',
                                  'decode_head.score_pool4.weight',
                                  'decode_head.score_pool4.bias',
                                  'decode_head.upscore2.weight',
                                  'decode_head.upscore16.weight'])
    assert 'decode_head.upscore8.weight' in keys['8s']
    assert 'decode_head.score_pool3.bias' in keys['8s']
    head = _segmentor('8s').decode_head
    assert head.conv_seg is head.score_fr  # BaseDecodeHead's name, without its own key
    assert head.score_fr.weight.abs().sum() == 0 and head.score_pool3.bias.abs().sum() == 0
    assert head.upscore8.kernel_size == (16, 16) and head.upscore8.stride == (8, 8)
    assert head.upscore2.padding == (1, 1)  # aligned; the Caffe layout has none
    assert _segmentor('8s', 'caffe').decode_head.upscore2.padding == (0, 0)


@pytest.mark.parametrize('kwargs, message', [
    (dict(arch='4s'), "decode_head.arch must be one of \\['16s', '32s', '8s'\\], got '4s'"),
    (dict(alignment='center'), "alignment must be one of \\('caffe', 'aligned'\\)"),
    (dict(frozen_upsample='first'), "frozen_upsample must be one of"),
    (dict(in_channels=[3, 8]), 'must give the channels of 4 inputs for arch=.8s.: '
                               'image, pool3, pool4, fc7'),
    (dict(channels=16), 'decode_head.channels \\(16\\) must equal the fc7 channels'),
    (dict(input_transform='resize_concat'), "input_transform must be 'multiple_select'"),
])
def test_bad_arguments_name_the_key(kwargs, message):
    head = dict(type='FCNSkipHead', in_channels=[3, 8, 16, 8], in_index=[0, 1, 2, 3],
                channels=8, num_classes=3)
    head.update(kwargs)
    if 'in_channels' in kwargs:
        head['in_index'] = list(range(len(kwargs['in_channels'])))
    with pytest.raises(ValueError, match=message):
        MODELS.build(head)


def test_caffe_crops_on_an_unpadded_backbone_say_what_to_change():
    model = _segmentor(alignment='caffe')
    model.backbone.conv1_1.padding = (1, 1)  # the pad-100 is gone
    with pytest.raises(ValueError, match='first_conv_padding=100'):
        model(torch.zeros(1, 3, 224, 224))
