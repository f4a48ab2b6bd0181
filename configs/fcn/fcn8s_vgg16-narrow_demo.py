# FCN-8s on the generated demo shapes data (6 classes, 128x128): a VGG16-BN at 1/8 of
# the width (stages of 8/16/32/64/64 channels; fc6, a padded 3x3, and fc7 of 256) in
# the aligned variant (conv1_1 padding 1, fc6 padded, no Caffe crops: without the
# pad-100 the network costs about a sixth of the FLOPs here), trained from scratch.
# Unlike the Caffe-exact VOC configs it takes RGB normalised by the ImageNet mean/std
# (as the R18 demo) and learns all three upsamplers. 2500 iterations of 8 images (4.1
# GFLOPs per step, a third of the R18 demo's; its thin full-resolution layers run at a
# low rate, so a step takes about as long as one of the R18 demo); it reached 78.8 mIoU
# on the val split (75.3 with a 2000-iteration schedule).
#   python tools/train.py configs/fcn/fcn8s_vgg16-narrow_demo.py
_base_ = [
    '../_base_/models/fcn8s_vgg16.py', '../_base_/datasets/demo_shapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_20k.py'
]
max_iters = 2500
crop_size = (128, 128)
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        base_channels=8,
        first_conv_padding=1,
        fc_channels=256,
        fc6_kernel_size=3,
        fc6_padding=1,
        fc_dropout=0.0,
        input_norm_cfg=None,
        norm_cfg=norm_cfg),
    decode_head=dict(
        alignment='aligned',
        in_channels=(3, 32, 64, 256),  # image, pool3, pool4, fc7
        channels=256,
        frozen_upsample='none',
        num_classes=6))
# From scratch, AdamW converges much faster here than SGD.
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True, type='AdamW', lr=0.005, betas=(0.9, 0.999),
        weight_decay=0.01))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-5,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=max_iters))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
