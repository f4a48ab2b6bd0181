# FCN R18-D8 on Pascal VOC 2012 + SBD, 480x480 crops. ResNet-18 (BasicBlock) outputs
# 64/128/256/512 channels, so the heads read 512 (decode) and 256 (auxiliary) channels.
_base_ = './fcn_r50-d8_480x480_voc.py'
model = dict(
    pretrained='open-mmlab://resnet18_v1c',
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))
