# FCN R50-D8 on Cityscapes, 769x769 crops, 80k iterations: align_corners=True in both
# heads and sliding-window inference (769x769 windows, stride 513) over (2049, 1025) images.
_base_ = [
    '../_base_/models/fcn_r50-d8.py', '../_base_/datasets/cityscapes_769x769.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k.py'
]
crop_size = (769, 769)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(align_corners=True),
    auxiliary_head=dict(align_corners=True),
    test_cfg=dict(mode='slide', crop_size=(769, 769), stride=(513, 513)))
