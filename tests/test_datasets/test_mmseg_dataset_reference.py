"""Cityscapes, ADE20K, Pascal Context (60 and 59) and COCO-Stuff 164k load as in
MMSegmentation 1.2.2: same file lists, metainfo and label arrays on the same files.

The reference (``tests/data/mmseg_reference/datasets/``) was written by MMSegmentation
from the trees of ``synthetic_layouts.py``; the trees are rebuilt here, byte for byte.
A missing reference file fails these tests.
"""
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image
from synthetic_layouts import CASES, LAYOUTS, build_layout, case_dataset_cfg, relative_files

from fcn_mm.registry import DATASETS

REF_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'mmseg_reference',
                   'datasets')


def _reference():
    with open(osp.join(REF_DIR, 'reference.json'), encoding='utf-8') as f:
        reference = json.load(f)
    assert reference['mmseg'] == '1.2.2'
    return reference['cases'], dict(np.load(osp.join(REF_DIR, 'labels.npz')))


REFERENCE, LABELS = _reference()


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    tree = str(tmp_path_factory.mktemp('data'))
    return {name: build_layout(name, tree) for name in LAYOUTS}


def test_reference_covers_every_case_and_dataset_type():
    assert sorted(REFERENCE) == sorted(CASES)
    assert {CASES[case][1] for case in CASES} == {
        'CityscapesDataset', 'ADE20KDataset', 'PascalContextDataset',
        'PascalContextDataset59', 'COCOStuffDataset'}


@pytest.mark.parametrize('case', sorted(CASES))
def test_files_metainfo_and_labels_equal_mmsegmentation(case, roots):
    expected = REFERENCE[case]
    cfg = case_dataset_cfg(case, roots[CASES[case][0]])
    cfg['pipeline'] = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    dataset = DATASETS.build(cfg)
    assert type(dataset).__name__ == CASES[case][1]
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert relative_files(infos, roots[CASES[case][0]]) == expected['files']
    meta = dataset.metainfo
    assert list(meta['classes']) == expected['classes']
    assert [list(map(int, rgb)) for rgb in meta['palette']] == expected['palette']
    assert meta['reduce_zero_label'] is expected['reduce_zero_label']
    label_map = meta['label_map']
    assert (None if label_map is None else [[k, v] for k, v in sorted(label_map.items())]) \
        == expected['label_map']
    for i in range(len(dataset)):
        label = dataset[i]['gt_seg_map']
        reference = LABELS[f'{case}__{i}']
        assert label.dtype == np.uint8 and label.shape == reference.shape
        np.testing.assert_array_equal(label, reference, err_msg=f'{case} sample {i}')


def test_reduce_zero_label_datasets_ignore_zero(roots):
    # the reference holds 255 where the file holds 0 (ADE20K "other", Context background)
    for case in ('ade_train', 'pascal_context_59_train'):
        dataset = DATASETS.build(dict(case_dataset_cfg(case, roots[CASES[case][0]]),
                                      pipeline=[dict(type='LoadAnnotations')]))
        zeros = 0
        for i in range(len(dataset)):
            raw = np.asarray(Image.open(dataset.get_data_info(i)['seg_map_path']))
            label = dataset[i]['gt_seg_map']
            zeros += int((raw == 0).sum())
            assert (label[(raw == 0) | (raw == 255)] == 255).all()
            kept = (raw != 0) & (raw != 255)
            np.testing.assert_array_equal(label[kept], raw[kept] - 1)
        assert zeros > 0, case


def test_missing_folder_and_split_file_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='leftImg8bit/train.*data_prefix.img_path'):
        DATASETS.build(case_dataset_cfg('cityscapes_train', str(tmp_path / 'cityscapes')))
    root = build_layout('pascal_context', str(tmp_path))
    cfg = case_dataset_cfg('pascal_context_train', root)
    cfg['ann_file'] = 'ImageSets/SegmentationContext/trainval.txt'
    with pytest.raises(FileNotFoundError, match='trainval.txt'):
        DATASETS.build(cfg)


def test_classes_of_ones_own_are_not_a_label_map(roots):
    # classes that are no subset of the type's own (a dataset of your own read with an
    # existing loader, as the demo config does) keep their labels: no label_map
    cfg = case_dataset_cfg('ade_train', roots['ade'])
    own = DATASETS.build(dict(cfg, metainfo=dict(classes=('sky', 'shape'),
                                                  palette=[[0, 0, 0], [9, 9, 9]])))
    assert own.metainfo['label_map'] is None
    assert own.metainfo['palette'] == [[0, 0, 0], [9, 9, 9]]
    assert all(info['label_map'] is None for info in own.load_data_list())
