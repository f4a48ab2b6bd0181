# The 20k recipe of fcn_r50-d8_480x480_voc.py (4 GPUs x batch 4 = 16 images per step,
# SyncBN) on ONE GPU or a CPU: batch 4 x 4 accumulated iterations = 16 images per
# optimizer step at the recipe's LR (0.01), BN instead of SyncBN (its statistics come
# from 4 images instead of 16). Four iterations make one step, so 80k iterations are the
# recipe's 20k steps; the poly LR ends with training (end=None), validation and
# checkpoints come every 8k iterations (the recipe's 2k steps).
#   python tools/train.py configs/fcn/fcn_r50-d8_480x480_voc_1gpu.py
_base_ = './fcn_r50-d8_480x480_voc.py'
accumulative_counts = 4
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    backbone=dict(norm_cfg=norm_cfg),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
train_dataloader = dict(batch_size=4)
optim_wrapper = dict(accumulative_counts=accumulative_counts)
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=None,
        by_epoch=False)
]
train_cfg = dict(
    max_iters=20000 * accumulative_counts,
    val_interval=2000 * accumulative_counts)
default_hooks = dict(checkpoint=dict(interval=2000 * accumulative_counts))
