# A tiny FCN (ResNetV1c-18 at 1/16 width, 32x32 crops) for the perf tools' tests.
_base_ = '../../configs/fcn/fcn_r18-d8_480x480_voc.py'
crop_size = (32, 32)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(stem_channels=8, base_channels=4, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=32, channels=8, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=16, channels=4, norm_cfg=norm_cfg))
