# The demo data set: 128x128 images of coloured, textured shapes (circle, square,
# triangle, ring, star) on textured backgrounds, in the Pascal VOC layout. Colours are
# random, so a model must learn shapes. tools/train.py and tools/test.py generate it
# with fcn_mm.datasets.demo_data.prepare_demo_data(**demo_data) when it is missing
# (a few seconds, deterministic); it is read with the Pascal VOC loader.
# 1 to 3 non-overlapping shapes per image, radius 16-32% of the image size, 0 to 2
# occluding bars. No PhotoMetricDistortion: colours are random by construction, so it
# would only cost time.
dataset_type = 'PascalVOCDataset'
data_root = 'data/demo'
image_size = 128
demo_data = dict(
    data_root=data_root, num_train=2000, num_val=100, image_size=image_size, seed=0)
metainfo = dict(
    classes=('background', 'circle', 'square', 'triangle', 'ring', 'star'),
    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
             [128, 0, 128]])
crop_size = (image_size, image_size)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=crop_size,
        ratio_range=(1.0, 1.25),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    # annotations are loaded after Resize: the metric compares at the original size
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
img_ratios = [0.75, 1.0, 1.25]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale_factor=r, keep_ratio=True)
                for r in img_ratios
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ], [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]
        ])
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/train.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
# The demo's total batch: 1 process x batch_size 8 (see `--auto-scale-lr`).
auto_scale_lr = dict(enable=False, base_batch_size=8)
