# FCN R50-D8 on COCO-Stuff 164k (171 classes), 512x512 crops, 160k iterations (MMSegmentation
# has no FCN config for it; this follows its COCO-Stuff 164k recipes of other heads).
_base_ = [
    '../_base_/models/fcn_r50-d8.py', '../_base_/datasets/coco-stuff164k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_160k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=171),
    auxiliary_head=dict(num_classes=171))
