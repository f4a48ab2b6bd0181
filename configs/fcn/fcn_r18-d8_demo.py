# The README's first run: a narrow FCN R18-D8 (ResNetV1c-18 at 1/4 width: stages of
# 16/32/64/128 channels, output stride 8, BN, no pretrained weights) trained from
# scratch on the generated demo shapes data (6 classes, 128x128). On 2 CPU cores it
# generates the data, trains 3500 iterations (batch 8), validates and saves a
# checkpoint in about 5 minutes (8-10 CPU-minutes) and reaches about 85-90 mIoU on
# the held-out val split (a colour-only classifier gets below 15).
#   python tools/train.py configs/fcn/fcn_r18-d8_demo.py
_base_ = [
    '../_base_/models/fcn_r50-d8.py', '../_base_/datasets/demo_shapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_20k.py'
]
max_iters = 3500
crop_size = (128, 128)
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    # zero_init_residual=False: from scratch, the zero-initialised last BN of every
    # block slows training down a lot in this short schedule
    backbone=dict(
        depth=18,
        stem_channels=16,
        base_channels=16,
        norm_cfg=norm_cfg,
        zero_init_residual=False),
    decode_head=dict(
        in_channels=128, channels=64, num_classes=6, norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=64, channels=32, num_classes=6, norm_cfg=norm_cfg))
# From scratch, AdamW converges much faster here than the base schedule's SGD.
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True, type='AdamW', lr=0.005, betas=(0.9, 0.999),
        weight_decay=0.01))
# end=None: the poly decay ends with training (tools/train.py sets it to
# train_cfg.max_iters), so `--cfg-options train_cfg.max_iters=300` shortens both.
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-5,
        power=0.9,
        begin=0,
        end=None,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=max_iters))
env_cfg = dict(cudnn_benchmark=False)
# a fixed seed, so that runs of the README command are repeatable
randomness = dict(seed=0)
