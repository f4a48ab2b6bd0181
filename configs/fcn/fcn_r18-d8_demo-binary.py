# Binary segmentation on the demo shapes: every shape is foreground (1), the rest
# background (0). The demo's narrow FCN R18-D8 with a single-channel head
# (out_channels=1): sigmoid cross entropy plus a Dice loss, and a probability threshold
# of 0.3 (mmseg's default `threshold`) for the predicted labels. IoUMetric reports the
# two classes. The labels are binarised in the pipeline by BinarizeLabels, after
# LoadAnnotations has checked them against the six demo classes.
#   python tools/train.py configs/fcn/fcn_r18-d8_demo-binary.py
_base_ = './fcn_r18-d8_demo.py'
metainfo = dict(classes=('background', 'shape'), palette=[[0, 0, 0], [128, 0, 0]])
crop_size = (128, 128)
load_labels = [dict(type='LoadAnnotations', num_classes=6), dict(type='BinarizeLabels')]
train_pipeline = [
    dict(type='LoadImageFromFile'), *load_labels,
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True), *load_labels,
    dict(type='PackSegInputs')
]
train_dataloader = dict(dataset=dict(metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(
    decode_head=dict(
        num_classes=2,
        out_channels=1,
        threshold=0.3,
        loss_decode=[
            dict(type='CrossEntropyLoss', use_sigmoid=True, avg_non_ignore=True,
                 loss_weight=1.0),
            dict(type='DiceLoss', use_sigmoid=True, loss_weight=0.5)
        ]))
