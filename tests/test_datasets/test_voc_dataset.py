"""PascalVOCDataset on a small VOC layout: loading, ConcatDataset from config, errors."""
import os

import numpy as np
import pytest
import torch
from mmengine.registry import DATASETS as ROOT_DATASETS

from fcn_mm.registry import DATASETS
from voc_layout import random_sample, write_voc_layout

TRAIN, AUG, VAL = ['2007_000032', '2007_000039'], ['2008_000002'], ['2007_000033']
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
            dict(type='RandomResize', scale=(128, 64), ratio_range=(1.0, 2.0),
                 keep_ratio=True),
            dict(type='RandomCrop', crop_size=(24, 24), cat_max_ratio=0.75),
            dict(type='RandomFlip', prob=0.5), dict(type='PhotoMetricDistortion'),
            dict(type='PackSegInputs')]


@pytest.fixture(scope='module')
def voc(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('VOCdevkit'))
    samples = {s: random_sample(30, 40, i) for i, s in enumerate(TRAIN + VAL + AUG)}
    write_voc_layout(root, {s: samples[s] for s in TRAIN + VAL},
                     splits=dict(train=TRAIN, val=VAL))
    voc = write_voc_layout(root, {s: samples[s] for s in AUG},
                           splits=dict(aug=AUG), label_dir='SegmentationClassAug',
                           label_mode='L')
    return voc, samples


def _cfg(voc, **kwargs):
    cfg = dict(type='PascalVOCDataset', data_root=voc,
               data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
               ann_file='ImageSets/Segmentation/train.txt', pipeline=[])
    cfg.update(kwargs)
    return cfg


def test_voc_metainfo_and_loading(voc):
    root, samples = voc
    ds = DATASETS.build(_cfg(root, pipeline=[dict(type='LoadImageFromFile'),
                                             dict(type='LoadAnnotations')]))
    assert len(ds) == 2
    assert ds.metainfo['classes'][15] == 'person' and len(ds.metainfo['classes']) == 21
    assert ds.metainfo['palette'][15] == [192, 128, 128]
    item = ds[1]
    assert item['img_path'].endswith('JPEGImages/2007_000039.jpg')
    np.testing.assert_array_equal(item['gt_seg_map'], samples['2007_000039'][1])


def test_no_split_file_uses_sorted_folder(tmp_path):
    stems = ['b_2', 'a_1', 'c_0']
    root = write_voc_layout(str(tmp_path), {s: random_sample(8, 8, i)
                                            for i, s in enumerate(stems)})
    ds = DATASETS.build(_cfg(root, ann_file=''))
    found = [os.path.basename(ds.get_data_info(i)['img_path'])[:-4] for i in range(len(ds))]
    assert found == sorted(stems)


def test_concat_dataset_from_config(voc, registry_fallback_log):
    root, _ = voc
    cfg = dict(type='ConcatDataset', datasets=[
        _cfg(root, pipeline=PIPELINE),
        _cfg(root, data_prefix=dict(img_path='JPEGImages',
                                    seg_map_path='SegmentationClassAug'),
             ann_file='ImageSets/Segmentation/aug.txt', pipeline=PIPELINE)])
    ds = ROOT_DATASETS.build(cfg)  # as the Runner does, through the root registry
    assert type(ds).__module__.startswith('fcn_mm')
    assert len(ds) == 3
    for i in range(3):
        item = ds[i]
        assert item['inputs'].shape == (3, 24, 24) and item['inputs'].dtype == torch.uint8
        assert item['data_samples'].gt_sem_seg.data.shape == (1, 24, 24)
    assert registry_fallback_log == []


def test_missing_data_root(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'nowhere/JPEGImages.*does not exist.*dataset_prepare.md'):
        DATASETS.build(_cfg(str(tmp_path / 'nowhere')))


def test_missing_label_folder(voc):
    root, _ = voc
    with pytest.raises(FileNotFoundError, match=r'SegmentationClassX.*seg_map_path'):
        DATASETS.build(_cfg(root, data_prefix=dict(img_path='JPEGImages',
                                                   seg_map_path='SegmentationClassX')))


def test_empty_split_file(voc, tmp_path):
    root, _ = voc
    (tmp_path / 'empty.txt').write_text('\n\n')
    with pytest.raises(ValueError, match=r'empty.txt" is empty'):
        DATASETS.build(_cfg(root, ann_file=str(tmp_path / 'empty.txt')))


def test_stem_without_image_or_label(voc, tmp_path):
    root, _ = voc
    (tmp_path / 'split.txt').write_text('2007_000032\n2099_999999\n')
    with pytest.raises(FileNotFoundError,
                       match=r'Image for id "2099_999999" not found: .*2099_999999.jpg'):
        DATASETS.build(_cfg(root, ann_file=str(tmp_path / 'split.txt')))
    (tmp_path / 'aug_ids.txt').write_text('2008_000002\n')  # image exists, no VOC label
    with pytest.raises(FileNotFoundError,
                       match=r'Label file for id "2008_000002" not found: .*'
                             r'SegmentationClass/2008_000002.png'):
        DATASETS.build(_cfg(root, ann_file=str(tmp_path / 'aug_ids.txt')))


def test_lazy_init_defers_checks(tmp_path):
    ds = DATASETS.build(_cfg(str(tmp_path / 'nowhere'), lazy_init=True))
    with pytest.raises(FileNotFoundError, match='dataset_prepare.md'):
        len(ds)


class _DropFirst:
    """A pipeline step returning None for one image."""

    def __call__(self, results):
        return None if results['img_path'].endswith('2007_000032.jpg') else results


def test_pipeline_none_raises_or_refetches(voc):
    root, _ = voc
    ds = DATASETS.build(_cfg(root, pipeline=[_DropFirst()]))
    with pytest.raises(ValueError, match=r'returned None for sample 0 .*2007_000032.jpg'
                                         r'.*refetch_on_none'):
        ds[0]
    ds = DATASETS.build(_cfg(root, pipeline=[_DropFirst()], refetch_on_none=True))
    assert ds[0]['img_path'].endswith('2007_000039.jpg')
    assert ds.num_refetched >= 1


def test_aug_base_config_builds(voc, registry_fallback_log):
    from mmengine import Config
    here = os.path.dirname(os.path.abspath(__file__))
    cfg = Config.fromfile(os.path.join(here, '..', '..', 'configs', '_base_', 'datasets',
                                       'pascal_voc12_aug.py'))
    root, samples = voc
    for sub in cfg.train_dataloader.dataset.datasets:
        sub.data_root = root
    ds = ROOT_DATASETS.build(cfg.train_dataloader.dataset)
    assert len(ds) == 3
    assert ds.datasets[1].get_data_info(0)['seg_map_path'].endswith(
        'SegmentationClassAug/2008_000002.png')
    item = ds[2]
    assert item['inputs'].shape[0] == 3 and max(item['inputs'].shape[1:]) <= 512
    cfg.val_dataloader.dataset.data_root = root
    val = ROOT_DATASETS.build(cfg.val_dataloader.dataset)
    sample = val[0]['data_samples']
    assert sample.gt_sem_seg.data.shape == (1, 30, 40)  # labels stay at the original size
    np.testing.assert_array_equal(sample.gt_sem_seg.data[0].numpy(), samples[VAL[0]][1])
    assert registry_fallback_log == []
