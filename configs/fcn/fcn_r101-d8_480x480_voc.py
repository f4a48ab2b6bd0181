# FCN R101-D8 on Pascal VOC 2012 + SBD, 480x480 crops: the R50 leaf with a deeper backbone.
_base_ = './fcn_r50-d8_480x480_voc.py'
model = dict(pretrained='open-mmlab://resnet101_v1c', backbone=dict(depth=101))
