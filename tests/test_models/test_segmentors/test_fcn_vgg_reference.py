"""FCN-32s/16s/8s VGG16 against plain-PyTorch references written from the paper's nets.

The reference below is built from ``nn.Conv2d`` / ``nn.ConvTranspose2d`` with the Caffe
layer names (no fcn_mm module), filled with random weights, converted with
``tools/model_converters/fcn_caffe2fcnmm.py`` and loaded strictly into the model of
``configs/fcn/fcn{32,16,8}s_vgg16_480x480_voc.py``. fcn_mm's ``predict`` on raw BGR
uint8 images (its data preprocessor subtracts the Caffe mean) must give the
reference's logits on the mean-subtracted images. Most cases use a narrow width
(the same architecture, fewer channels); one runs the full-width VGG16.
"""
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import nn

from fcn_mm.registry import MODELS
from fcn_mm.structures import SegDataSample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CAFFE_MEAN = (104.00699, 116.66877, 122.67892)
SIZES = [(480, 480), (97, 131), (375, 500)]
BLOCKS = (2, 2, 3, 3, 3)


def _tool():
    path = osp.join(REPO, 'tools', 'model_converters', 'fcn_caffe2fcnmm.py')
    spec = importlib.util.spec_from_file_location('fcn_caffe2fcnmm', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _crop(x, offset, height, width):
    return x[:, :, offset:offset + height, offset:offset + width]


class ReferenceFCN(nn.Module):
    """FCN-{32s,16s,8s} VGG16 as in the paper's Caffe nets (aligned: the padded variant).

    Caffe-exact: conv1_1 pad 100, ceil-mode pools, 7x7 fc6 without padding,
    unpadded deconvolutions, skip crops at 5 (pool4) and 9 (pool3), output crop at
    19 / 27 / 31. Aligned: conv1_1 pad 1, fc6 pad 3, deconvolutions padded by
    stride / 2, the upsampled map cut to the skip's size, output cut at 0.
    """

    def __init__(self, arch, aligned=False, base=64, fc=4096, num_classes=21):
        super().__init__()
        self.arch, self.aligned = arch, aligned
        widths = [base, 2 * base, 4 * base, 8 * base, 8 * base]
        cin = 3
        for stage, (num, width) in enumerate(zip(BLOCKS, widths), start=1):
            for i in range(1, num + 1):
                pad = (1 if aligned else 100) if (stage, i) == (1, 1) else 1
                setattr(self, f'conv{stage}_{i}', nn.Conv2d(cin, width, 3, padding=pad))
                cin = width
        self.fc6 = nn.Conv2d(cin, fc, 7, padding=3 if aligned else 0)
        self.fc7 = nn.Conv2d(fc, fc, 1)
        self.score_fr = nn.Conv2d(fc, num_classes, 1)

        def deconv(k, s):
            return nn.ConvTranspose2d(num_classes, num_classes, k, stride=s, bias=False,
                                      padding=s // 2 if aligned else 0)
        if arch == '32s':
            self.upscore = deconv(64, 32)
        else:
            self.score_pool4 = nn.Conv2d(8 * base, num_classes, 1)
            self.upscore2 = deconv(4, 2)
        if arch == '16s':
            self.upscore16 = deconv(32, 16)
        if arch == '8s':
            self.score_pool3 = nn.Conv2d(4 * base, num_classes, 1)
            self.upscore_pool4 = deconv(4, 2)
            self.upscore8 = deconv(16, 8)

    def _fuse(self, upsampled, skip, offset):
        if self.aligned:
            return _crop(upsampled, 0, skip.shape[2], skip.shape[3]) + skip
        return upsampled + _crop(skip, offset, upsampled.shape[2], upsampled.shape[3])

    def forward(self, x):
        height, width = x.shape[2:]
        h, pools = x, []
        for stage, num in enumerate(BLOCKS, start=1):
            for i in range(1, num + 1):
                h = F.relu(getattr(self, f'conv{stage}_{i}')(h))
            h = F.max_pool2d(h, 2, stride=2, ceil_mode=True)
            pools.append(h)
        h = F.relu(self.fc7(F.relu(self.fc6(h))))  # drop6/drop7: identity in eval
        score = self.score_fr(h)
        if self.arch == '32s':
            return _crop(self.upscore(score), 0 if self.aligned else 19, height, width)
        score = self._fuse(self.upscore2(score), self.score_pool4(pools[3]), 5)
        if self.arch == '16s':
            return _crop(self.upscore16(score), 0 if self.aligned else 27, height, width)
        score = self._fuse(self.upscore_pool4(score), self.score_pool3(pools[2]), 9)
        return _crop(self.upscore8(score), 0 if self.aligned else 31, height, width)


def _random_reference(arch, aligned, base, fc, num_classes, seed=0):
    torch.manual_seed(seed)
    with torch.device('meta'):  # no default init: every weight is drawn once below
        ref = ReferenceFCN(arch, aligned, base, fc, num_classes)
    ref = ref.to_empty(device='cpu')
    for module in ref.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity='relu')
            nn.init.uniform_(module.bias, -0.5, 0.5)
        elif isinstance(module, nn.ConvTranspose2d):
            nn.init.normal_(module.weight, std=0.2)
    return ref.eval()


def fcn_mm_model(arch, aligned=False, base=64, fc=4096, num_classes=21):
    """The model of configs/fcn/fcn{arch}_vgg16_480x480_voc.py, narrowed / aligned."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'fcn', f'fcn{arch}_vgg16_480x480_voc.py'))
    model = cfg.model
    model.pretrained = None
    model.backbone.update(base_channels=base, fc_channels=fc)
    skips = {'32s': [], '16s': [8 * base], '8s': [4 * base, 8 * base]}[arch]
    model.decode_head.update(in_channels=[3, *skips, fc], channels=fc,
                             num_classes=num_classes)
    if aligned:
        model.backbone.update(first_conv_padding=1, fc6_padding=3)
        model.decode_head.alignment = 'aligned'
    return MODELS.build(model)


def _converted_pair(arch, aligned, base, fc, num_classes):
    ref = _random_reference(arch, aligned, base, fc, num_classes)
    detected, state_dict = _tool().convert_caffe_fcn(ref.state_dict())
    assert detected == arch
    ours = fcn_mm_model(arch, aligned, base, fc, num_classes)
    ours.load_state_dict(state_dict, strict=True)
    return ref, ours.eval()


def _bgr_image(height, width, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, height, width), dtype=torch.uint8, generator=generator)


def _compare(ref, ours, height, width, seed=0):
    image = _bgr_image(height, width, seed)
    sample = SegDataSample(metainfo=dict(ori_shape=(height, width), img_shape=(height, width)))
    mean = torch.tensor(CAFFE_MEAN).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = ref(image[None].float() - mean)[0]
        got = ours.test_step(dict(inputs=[image], data_samples=[sample]))[0]
    logits = got.seg_logits.data
    assert logits.shape == expected.shape == (expected.shape[0], height, width)
    scale = expected.abs().max()
    assert scale > 0
    assert (logits - expected).abs().max() <= 1e-3 * scale
    agree = (got.pred_sem_seg.data[0] == expected.argmax(0)).float().mean()
    assert agree >= 0.999


@pytest.mark.parametrize('aligned', [False, True], ids=['caffe', 'aligned'])
@pytest.mark.parametrize('arch', ['32s', '16s', '8s'])
def test_narrow_fcn_matches_reference_at_three_sizes(arch, aligned):
    ref, ours = _converted_pair(arch, aligned, base=8, fc=32, num_classes=5)
    for index, (height, width) in enumerate(SIZES):
        _compare(ref, ours, height, width, seed=index)


def test_full_width_fcn8s_matches_reference():
    """The real VGG16 widths (conv 64..512, fc 4096, 21 classes), batch 1, no grad."""
    ref, ours = _converted_pair('8s', False, base=64, fc=4096, num_classes=21)
    _compare(ref, ours, 97, 131)


def test_caffe_output_is_cropped_where_the_paper_crops():
    """The output crop of the Caffe FCN-8s is at offset 31 of upscore8's map."""
    ref, ours = _converted_pair('8s', False, base=4, fc=8, num_classes=3)
    x = torch.randn(1, 3, 37, 45)
    with torch.no_grad():
        feats = ours.extract_feat(x)
        head = ours.decode_head
        # undo only the last crop: upscore8's full map, as the reference computes it
        score = head.score_fr(feats[3])
        score = head.upscore2(score)
        score = score + head.score_pool4(feats[2])[:, :, 5:5 + score.shape[2],
                                                   5:5 + score.shape[3]]
        score = head.upscore_pool4(score)
        score = score + head.score_pool3(feats[1])[:, :, 9:9 + score.shape[2],
                                                   9:9 + score.shape[3]]
        full = head.upscore8(score)
        out = ours(x, mode='tensor')
    assert full.shape[2] > 31 + 37 and full.shape[3] > 31 + 45
    torch.testing.assert_close(out, full[:, :, 31:31 + 37, 31:31 + 45])
    torch.testing.assert_close(out, ref(x))
