# The README's first run: a narrow FCN R18-D8 trained from scratch on the generated demo
# shapes data (6 classes, 128x128; a colour-only classifier gets below 15 mIoU). The
# backbone is the first three stages of a ResNetV1c-18 at 1/4 width (stem and stages of
# 16/16/32/64 channels, output stride 8: stride 2 in stage 2, dilation 2 in stage 3),
# BN, no pretrained weights; the FCN head reads stage 3 and there is no auxiliary head.
# At this image size the fourth stage (about half of the FLOPs) and the auxiliary head
# (its full-size loss) cost more training time than they give back in accuracy within
# the demo's budget. The training images are used at their own size (128x128, random
# horizontal flips only, as the test sees them; random rescaling and cropping learned
# more slowly here). AdamW with a 50-iteration warm-up and a linear decay over 2000
# iterations of 8 images; it validates and saves once, at the end.
# Time and mIoU as measured: README.md ("Quick start") and docs/get_started.md.
#   python tools/train.py configs/fcn/fcn_r18-d8_demo.py
_base_ = [
    '../_base_/models/fcn_r50-d8.py', '../_base_/datasets/demo_shapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_20k.py'
]
max_iters = 2000
warmup_iters = 50
crop_size = (128, 128)
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(size=crop_size)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
# num_workers=0: on two cores a loader process takes CPU time from the two compute
# threads (the images are small and decode in about a millisecond each)
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline), **loader)
val_dataloader = dict(**loader)
test_dataloader = val_dataloader
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    # zero_init_residual=False: from scratch, the zero-initialised last BN of every
    # block slows training down a lot in this short schedule
    backbone=dict(
        depth=18,
        num_stages=3,
        out_indices=(0, 1, 2),
        strides=(1, 2, 1),
        dilations=(1, 1, 2),
        stem_channels=16,
        base_channels=16,
        norm_cfg=norm_cfg,
        zero_init_residual=False),
    decode_head=dict(
        in_channels=64, in_index=2, channels=64, num_classes=6, norm_cfg=norm_cfg),
    auxiliary_head=None)
# From scratch, AdamW converges much faster here than the base schedule's SGD.
optim_wrapper = dict(
    optimizer=dict(
        _delete_=True, type='AdamW', lr=0.005, betas=(0.9, 0.999),
        weight_decay=0.01))
# end=None: the decay ends with training (tools/train.py sets it to
# train_cfg.max_iters), so `--cfg-options train_cfg.max_iters=300` shortens both.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.05,
        begin=0,
        end=warmup_iters,
        by_epoch=False),
    dict(
        type='PolyLR',
        eta_min=1e-5,
        power=1.0,
        begin=warmup_iters,
        end=None,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=max_iters))
env_cfg = dict(cudnn_benchmark=False)
# NHWC weights and images: about a fifth less time per step here than NCHW
speed = dict(channels_last=True)
# a fixed seed, so that runs of the README command are repeatable
randomness = dict(seed=0)
