# FCN R50-D8 on Pascal VOC 2012 + SBD ("voc12aug"), 480x480 crops, 40k iterations:
# the 20k leaf with the values of ../_base_/schedules/schedule_40k.py (a leaf cannot
# list both schedule bases: mmengine refuses the same key in two bases).
_base_ = './fcn_r50-d8_480x480_voc.py'
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=40000,
        by_epoch=False)
]
train_cfg = dict(max_iters=40000, val_interval=4000)
default_hooks = dict(checkpoint=dict(interval=4000))
