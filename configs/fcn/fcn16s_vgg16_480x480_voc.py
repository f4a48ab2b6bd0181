# FCN-16s VGG16 (Caffe-exact): as fcn8s_vgg16_480x480_voc.py without the pool3 skip;
# score_fr is upsampled x2 (upscore2), fused with score_pool4 (crop offset 5) and
# upsampled x16 (upscore16, fixed bilinear), output cropped at offset 27.
_base_ = './fcn8s_vgg16_480x480_voc.py'
model = dict(
    backbone=dict(out_indices=(3, 5)),  # pool4, fc7
    decode_head=dict(
        arch='16s', in_channels=(3, 512, 4096), in_index=(0, 1, 2)))
