# FCN R50-D8 on Cityscapes (19 classes), 512x1024 crops, 40k iterations, whole-image
# inference at (2048, 1024). num_classes=19 is the model base's value.
_base_ = [
    '../_base_/models/fcn_r50-d8.py', '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_40k.py'
]
crop_size = (512, 1024)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor)
