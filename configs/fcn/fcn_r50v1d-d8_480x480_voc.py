# FCN R50V1d-D8 on Pascal VOC 2012 + SBD, 480x480 crops: ResNetV1d (deep stem and
# AvgPool in the identity downsample). The ImageNet V1d weights are an mmcls
# (mmpretrain) model in mmengine's zoo (mmengine/hub/mmcls.json), hence mmcls://;
# open-mmlab:// has no resnet50_v1d entry.
_base_ = './fcn_r50-d8_480x480_voc.py'
model = dict(
    pretrained='mmcls://resnet50_v1d',
    backbone=dict(type='ResNetV1d'))
