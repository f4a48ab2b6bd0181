# FCN R50-D8 on Pascal VOC 2012 + SBD with online hard example mining of pixels, the
# recipe of MMSegmentation's Cityscapes OHEM configs: the decode head's loss is taken
# over the pixels whose label probability is below 0.7, and at least 100000 pixels per
# image (of 230400 in a 480x480 crop). The auxiliary head keeps every pixel.
_base_ = './fcn_r50-d8_480x480_voc.py'
model = dict(
    decode_head=dict(
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=100000)))
