# torchvision's fcn_resnet101: as fcn_tvseg-r50-d8_480x480_voc.py with ResNet-101.
_base_ = './fcn_tvseg-r50-d8_480x480_voc.py'
model = dict(backbone=dict(model_name='resnet101'))
