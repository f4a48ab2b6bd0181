# FCN R101-D8: fcn_r50-d8_480x480_40k_pascal_context_59 with a ResNetV1c-101 backbone.
_base_ = './fcn_r50-d8_480x480_40k_pascal_context_59.py'
model = dict(pretrained='open-mmlab://resnet101_v1c', backbone=dict(depth=101))
