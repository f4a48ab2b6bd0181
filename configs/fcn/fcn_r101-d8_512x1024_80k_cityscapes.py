# FCN R101-D8: fcn_r50-d8_512x1024_80k_cityscapes with a ResNetV1c-101 backbone.
_base_ = './fcn_r50-d8_512x1024_80k_cityscapes.py'
model = dict(pretrained='open-mmlab://resnet101_v1c', backbone=dict(depth=101))
