# FCN-8s on the generated demo shapes data (6 classes, 128x128): a VGG16-BN at 1/4
# width (stages of 16/32/64/128/128 channels, fc6/fc7 of 128, fc6 a padded 3x3), in the
# aligned variant (conv1_1 padding 1, fc6 padded, no Caffe crops: the network needs no
# pad-100 at this size), trained from scratch.
#   python tools/train.py configs/fcn/fcn8s_vgg16-narrow_demo.py
_base_ = [
    '../_base_/models/fcn8s_vgg16.py', '../_base_/datasets/demo_shapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_20k.py'
]
max_iters = 2000
crop_size = (128, 128)
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        base_channels=16,
        first_conv_padding=1,
        fc_channels=128,
        fc6_kernel_size=3,
        fc6_padding=1,
        fc_dropout=0.0,
        input_norm_cfg=None,
        norm_cfg=norm_cfg),
    decode_head=dict(
        alignment='aligned',
        in_channels=(3, 64, 128, 128),
        channels=128,
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
