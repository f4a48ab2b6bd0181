# The README's first run: a narrow FCN R18-D8 (ResNetV1c-18 at 1/4 width: stages of
# 16/32/64/128 channels, output stride 8, BN, no pretrained weights) trained from
# scratch on the generated demo shapes data (6 classes, 128x128). On 2 CPU cores it
# generates the data, trains, validates and saves a checkpoint in a few minutes and
# reaches about 90 mIoU on the held-out val split.
#   python tools/train.py configs/fcn/fcn_r18-d8_demo.py
_base_ = [
    '../_base_/models/fcn_r50-d8.py', '../_base_/datasets/demo_shapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_20k.py'
]
max_iters = 1600
crop_size = (128, 128)
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        depth=18, stem_channels=16, base_channels=16, norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=128, channels=64, num_classes=6, norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=64, channels=32, num_classes=6, norm_cfg=norm_cfg))
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
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
