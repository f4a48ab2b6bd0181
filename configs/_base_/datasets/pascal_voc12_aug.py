# Pascal VOC 2012 + SBD ("aug"): VOC train (SegmentationClass) concatenated with the
# SBD-only ids of aug.txt (SegmentationClassAug, from tools/dataset_converters/voc_aug.py);
# 1464 + 9118 = 10582 training images. Validation as pascal_voc12.py.
# A leaf that changes train_pipeline rebuilds the list from the two named sub-datasets:
#   train_dataloader = dict(dataset=dict(datasets=[
#       dict(_base_.dataset_train, pipeline=train_pipeline),
#       dict(_base_.dataset_aug, pipeline=train_pipeline)]))
_base_ = './pascal_voc12.py'
dataset_train = dict(
    type=_base_.dataset_type,
    data_root=_base_.data_root,
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    ann_file='ImageSets/Segmentation/train.txt',
    pipeline=_base_.train_pipeline)
dataset_aug = dict(
    type=_base_.dataset_type,
    data_root=_base_.data_root,
    data_prefix=dict(
        img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
    ann_file='ImageSets/Segmentation/aug.txt',
    pipeline=_base_.train_pipeline)
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[dataset_train, dataset_aug]))
