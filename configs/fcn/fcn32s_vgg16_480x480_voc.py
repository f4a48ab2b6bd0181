# FCN-32s VGG16 (Caffe-exact): as fcn8s_vgg16_480x480_voc.py without skips; score_fr
# is upsampled x32 by one fixed bilinear transposed conv (upscore) and cropped at 19.
_base_ = './fcn8s_vgg16_480x480_voc.py'
model = dict(
    backbone=dict(out_indices=(5, )),  # fc7
    decode_head=dict(arch='32s', in_channels=(3, 4096), in_index=(0, 1)))
