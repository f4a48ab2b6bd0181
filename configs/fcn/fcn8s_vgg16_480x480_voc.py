# FCN-8s VGG16 (the paper's network, Caffe-exact: pad 100, ceil pools, valid fc6, fixed
# crops; BGR minus the Caffe mean) on Pascal VOC 2012 + SBD ("voc12aug"), 480x480 crops.
# The paper's training recipe, as far as it transfers to fcn_mm:
# - SGD with momentum 0.99, weight decay 5e-4, a fixed learning rate, biases at twice
#   the learning rate without weight decay, no auxiliary loss, the last upsampler fixed
#   to bilinear interpolation, score layers starting at zero.
# - The learning rate: Caffe sums the loss over the pixels of one image (batch 1,
#   lr 1e-10); fcn_mm averages it over the pixels of the batch (MMSegmentation's
#   CrossEntropyLoss), so 4 images of 480x480 at lr 1e-4 take about the same step per
#   image (1e-10 x 4 x 480 x 480 ~ 1e-4).
# Differences, and why: batches of 4 random 480x480 crops (padded with the mean colour
# and ignored labels; Caffe trained on whole images one at a time) so that batches
# stack; 20k iterations of the voc12aug set (10582 images), as MMSegmentation's VOC
# configs, where the paper trains on SBD's 8498 images and tests on seg11valid; no
# photometric or scale augmentation (the paper found none helped). The paper trains in
# stages (FCN-32s, then 16s from it, then 8s from 16s, each with a lower learning rate);
# for that, set load_from to the coarser net's checkpoint: it is loaded non-strictly, so
# the new score layer starts at zero and the new upsamplers bilinear, as in the paper.
# Testing: whole images at their original size (no resize), as the paper does.
_base_ = [
    '../_base_/models/fcn8s_vgg16.py', '../_base_/datasets/pascal_voc12_aug.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_20k.py'
]
crop_size = (480, 480)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    dataset=dict(datasets=[
        dict(_base_.dataset_train, pipeline=train_pipeline),
        dict(_base_.dataset_aug, pipeline=train_pipeline)
    ]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(
    optimizer=dict(lr=1e-4, momentum=0.99, weight_decay=0.0005),
    paramwise_cfg=dict(bias_lr_mult=2.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(type='ConstantLR', factor=1.0, begin=0, end=20000, by_epoch=False)
]
