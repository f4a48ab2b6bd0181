"""The label check: one test per finding (its text), and silence on correct data."""
import os
import os.path as osp
import warnings

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

import fcn_mm.apis.label_check as api
from fcn_mm.apis.label_check import (label_check_before_training, label_check_settings,
                                     run_label_check)
from fcn_mm.datasets.label_check import LabelCheckError, LabelSpec, sample_indices
from voc_layout import block_label, random_sample, write_voc_layout

H, W = 16, 24
STEMS = ['a', 'b', 'c', 'd']
VOC21 = None  # PascalVOCDataset's own classes


def _classes(n):
    return tuple(f'c{i}' for i in range(n))


def _tree(tmp_path, labels, label_mode='P'):
    """A VOC tree whose masks are ``labels`` (stem -> (H, W) array), noise images."""
    samples = {s: (random_sample(H, W, i)[0], lab) for i, (s, lab) in enumerate(labels.items())}
    return write_voc_layout(str(tmp_path), samples, splits=dict(train=list(labels)),
                            label_mode=label_mode)


def _cfg(voc, classes=VOC21, heads=None, reduce=False, label_check=None,
         dataset_type='PascalVOCDataset'):
    dataset = dict(type=dataset_type, data_root=voc,
                   data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                   ann_file='ImageSets/Segmentation/train.txt', reduce_zero_label=reduce,
                   pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])
    if classes is not None:
        dataset['metainfo'] = dict(classes=classes)
    n = 21 if classes is None else len(classes)
    heads = dict(decode_head=n, auxiliary_head=n) if heads is None else heads
    cfg = dict(train_dataloader=dict(dataset=dataset),
               val_dataloader=dict(dataset=dataset),
               model=dict({k: dict(type='FCNHead', num_classes=v) for k, v in heads.items()}))
    if label_check is not None:
        cfg['label_check'] = label_check
    return Config(cfg)


def _error(cfg) -> str:
    with pytest.raises(LabelCheckError) as info:
        label_check_before_training(cfg)
    return str(info.value)


def _good_labels(n=21, void=0.1):
    return {s: block_label(H, W, range(n), block=4, seed=i, void_frac=void)
            for i, s in enumerate(STEMS)}


def test_correct_dataset_passes_silently(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(api, 'print_log', lambda *a, **k: logged.append(a))
    voc = _tree(tmp_path, _good_labels())
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        report = label_check_before_training(_cfg(voc))
    assert report.findings == [] and logged == []
    # train and val are the same config: checked once
    assert report.checked == {'train_dataloader.dataset': (4, 4)}


def test_demo_data_passes(tmp_path):
    from fcn_mm.apis.training import prepare_data
    from fcn_mm.utils.config_check import load_config
    root = str(tmp_path / 'demo')
    opts = {'demo_data.data_root': root, 'demo_data.num_train': 6, 'demo_data.num_val': 2}
    opts.update({f'{s}_dataloader.dataset.data_root': root for s in ('train', 'val', 'test')})
    cfg = load_config('configs/fcn/fcn_r18-d8_demo.py', cfg_options=opts)
    prepare_data(cfg)
    report = label_check_before_training(cfg)
    assert report.findings == []
    assert report.checked == {'train_dataloader.dataset': (6, 6),
                              'val_dataloader.dataset': (2, 2)}


def test_rgb_masks(tmp_path):
    labels = _good_labels()
    voc = _tree(tmp_path, labels)
    palette = np.random.default_rng(0).integers(0, 256, (256, 3)).astype(np.uint8)
    rgb_path = osp.join(voc, 'SegmentationClass', 'b.png')
    Image.fromarray(palette[labels['b']], 'RGB').save(rgb_path)
    text = _error(_cfg(voc))
    assert '[error] train_dataloader.dataset: 1 of 4 masks checked are colour images' in text
    assert f'{rgb_path} is a "RGB" image (most frequent pixel values: (' in text
    assert 'convert each colour to its class index' in text


def test_grey_saved_as_rgb(tmp_path):
    labels = _good_labels()
    voc = _tree(tmp_path, labels)
    grey = np.repeat(labels['a'][..., None], 3, axis=2)
    Image.fromarray(grey, 'RGB').save(osp.join(voc, 'SegmentationClass', 'a.png'))
    assert 'grey values saved as colour' in _error(_cfg(voc))


def test_binary_masks_stored_as_0_255(tmp_path):
    labels = {s: block_label(H, W, [0, 255], block=4, seed=i, void_frac=0)
              for i, s in enumerate(STEMS)}
    voc = _tree(tmp_path, labels, label_mode='L')
    text = _error(_cfg(voc, classes=('background', 'crack')))
    assert 'all 4 masks checked hold only the values 0 and 255' in text
    assert 'class 1 ("crack") never appears' in text
    assert 'mask = (mask == 255).astype(np.uint8)' in text


def test_labels_outside_num_classes(tmp_path):
    labels = _good_labels()
    labels['c'][0, :3] = [30, 31, 40]
    voc = _tree(tmp_path, labels)
    text = _error(_cfg(voc))
    path = osp.join(voc, 'SegmentationClass', 'c.png')
    assert 'label_range' not in text  # the kind is internal; the text explains
    assert '1 of 4 masks checked hold labels outside [0, 21) that are not the ignore ' \
           'index 255' in text
    assert f'{path}: [30, 31, 40]' in text
    assert 'list 41 classes' in text and 'num_classes=41' in text


def test_one_based_labels_suggest_reduce_zero_label(tmp_path):
    labels = {s: block_label(H, W, [1, 2, 3], block=4, seed=i) for i, s in enumerate(STEMS)}
    voc = _tree(tmp_path, labels)
    text = _error(_cfg(voc, classes=('road', 'tree', 'sky'), dataset_type='BaseSegDataset'))
    assert 'hold labels outside [0, 3)' in text and ': [3]' in text
    assert 'the masks hold 1..3 and never 0' in text and 'reduce_zero_label=True' in text
    assert 'label 0 (class' not in text  # the range finding already says it


def test_values_after_reduce_zero_label(tmp_path):
    labels = {s: block_label(H, W, [1, 2, 3, 4], block=4, seed=i) for i, s in enumerate(STEMS)}
    voc = _tree(tmp_path, labels)
    text = _error(_cfg(voc, classes=('a', 'b', 'c'), reduce=True,
                       dataset_type='BaseSegDataset'))
    # raw 4 -> 3 after the reduction: outside [0, 3); raw 1..3 -> 0..2 are fine
    assert 'hold labels (after reduce_zero_label) outside [0, 3)' in text and ': [3]' in text


def test_reduce_zero_label_with_zero_everywhere(tmp_path):
    labels = {}
    for i, s in enumerate(STEMS):
        lab = block_label(H, W, [1, 2, 3], block=4, seed=i, void_frac=0)
        lab[:, :W * 2 // 3] = 0  # 0 covers two thirds: a background class
        labels[s] = lab
    voc = _tree(tmp_path, labels)
    report = label_check_before_training(  # a warning: training goes on
        _cfg(voc, classes=('a', 'b', 'c'), reduce=True, dataset_type='BaseSegDataset'))
    [finding] = report.findings
    assert finding.severity == 'warning'
    text = str(finding)
    assert 'reduce_zero_label=True, but label 0 is in all 4 masks checked and is their ' \
           'most frequent value (67% of the pixels)' in text
    assert 'set reduce_zero_label=False and count it in classes (then 4 classes)' in text


def test_zero_never_present_without_reduce(tmp_path):
    labels = {s: block_label(H, W, [1, 2], block=4, seed=i) for i, s in enumerate(STEMS)}
    voc = _tree(tmp_path, labels)
    report = run_label_check(_cfg(voc, classes=('bg', 'a', 'b'), dataset_type='BaseSegDataset'))
    [finding] = report.findings
    assert finding.severity == 'warning'
    assert 'label 0 (class "bg") is in none of the 4 masks checked' in str(finding)
    assert 'set reduce_zero_label=True and drop the first class' in str(finding)


def test_num_classes_differs_from_classes(tmp_path):
    voc = _tree(tmp_path, _good_labels())
    text = _error(_cfg(voc, heads=dict(decode_head=19, auxiliary_head=21)))
    assert 'the model predicts a different number of classes than the dataset has ' \
           '(21 classes:' in text
    assert 'found: model.decode_head.num_classes=19\n' in text
    assert 'set num_classes=21 in every head' in text


def test_image_and_mask_sizes_differ(tmp_path):
    labels = _good_labels()
    voc = _tree(tmp_path, labels)
    path = osp.join(voc, 'SegmentationClass', 'd.png')
    Image.fromarray(labels['d'][:8, :12], 'L').save(path)
    text = _error(_cfg(voc))
    assert '1 of 4 masks checked differ in size from their image' in text
    assert f'JPEGImages/d.jpg is (H, W)=({H}, {W}), mask {path} is (8, 12)' in text
    assert 'nearest-neighbour' in text


def test_images_without_masks(tmp_path):
    voc = _tree(tmp_path, _good_labels())
    for stem in ('a', 'c'):
        os.remove(osp.join(voc, 'SegmentationClass', f'{stem}.png'))
    text = _error(_cfg(voc))  # the dataset alone would stop at the first
    assert '2 of 4 images have no mask' in text
    for stem in ('a', 'c'):
        assert (f'JPEGImages/{stem}.jpg (expected '
                f'{osp.join(voc, "SegmentationClass", stem)}.png)') in text


def test_missing_folder_keeps_the_dataset_message(tmp_path):
    voc = _tree(tmp_path, _good_labels())
    cfg = _cfg(voc)
    cfg.train_dataloader.dataset.data_prefix.seg_map_path = 'SegmentationClassAug'
    with pytest.raises(FileNotFoundError, match=r'folder ".*SegmentationClassAug" '
                       r'\(data_prefix.seg_map_path, data_root=.*\) does not exist'):
        run_label_check(cfg)  # check_dataset.py
    # before training, the Runner names it when it builds the dataset (as without the
    # check); the val dataset (its own config now) is still checked
    assert label_check_before_training(cfg).checked == {'val_dataloader.dataset': (4, 4)}


def test_unreadable_mask(tmp_path):
    voc = _tree(tmp_path, _good_labels())
    path = osp.join(voc, 'SegmentationClass', 'b.png')
    with open(path, 'wb') as f:
        f.write(b'\x89PNG not really')
    assert f'{path} cannot be decoded' in _error(_cfg(voc))


def test_label_lut_applies_reduce_then_label_map():
    spec = LabelSpec('d', 'T', classes=('x', 'y'), reduce_zero_label=True,
                     label_map={0: 255, 1: 0, 2: 1})
    lut = spec.label_lut(256)
    # raw 0 -> 255 (reduce); raw 1 -> 0 -> 255 (map); raw 2 -> 1 -> 0; raw 3 -> 2 -> 1;
    # raw 4 -> 3 (unmapped); raw 255 -> 255
    assert lut[[0, 1, 2, 3, 4, 255]].tolist() == [255, 255, 0, 1, 3, 255]


def test_label_lut_applies_the_pipelines_label_mappers_last():
    from mmengine.dataset import Compose

    from fcn_mm.datasets.label_check import label_spec_of
    from fcn_mm.datasets.transforms import BinarizeLabels

    class _Dataset:  # what label_spec_of reads of a dataset
        metainfo = dict(classes=('background', 'foreground'))
        pipeline = Compose([dict(type='LoadAnnotations'),
                            dict(type='BinarizeLabels', background=[0, 3])])

    spec = label_spec_of(_Dataset(), 'train_dataloader.dataset')
    assert [m.__self__.__class__ for m in spec.label_mappers] == [BinarizeLabels]
    # raw 0 and 3 are background, the other classes foreground, 255 stays ignored
    assert spec.label_lut(256)[[0, 1, 2, 3, 5, 255]].tolist() == [0, 1, 1, 0, 1, 255]
    # a mapper before LoadAnnotations would see no labels: it is not applied
    _Dataset.pipeline = Compose([dict(type='BinarizeLabels'), dict(type='LoadAnnotations')])
    assert label_spec_of(_Dataset(), 'd').label_mappers == ()


def test_sample_indices_and_settings(tmp_path):
    assert sample_indices(10, 3) == [0, 4, 9] and sample_indices(3, 50) == [0, 1, 2]
    voc = _tree(tmp_path, _good_labels())
    labels = _good_labels()
    labels['b'][0, 0] = 99
    _tree(tmp_path, labels)
    # sample of 2 (a, d): b is not read; the whole set finds it
    assert run_label_check(_cfg(voc), num_samples=2).findings == []
    assert 'b.png: [99]' in str(run_label_check(_cfg(voc)).findings[0])
    assert label_check_before_training(_cfg(voc, label_check=dict(enabled=False))) is None
    with pytest.raises(KeyError, match=r"label_check: unknown key\(s\) \['num_sample'\]"):
        label_check_settings(_cfg(voc, label_check=dict(num_sample=3)))
    with pytest.raises(ValueError, match='label_check.num_samples must be a positive int'):
        label_check_settings(_cfg(voc, label_check=dict(num_samples=0)))


def test_train_setup_stops_and_check_dataset_cli(tmp_path, monkeypatch, capsys):
    import runpy
    import sys

    from fcn_mm.apis.training import setup_train_config
    labels = _good_labels()
    labels['a'][:] = 0
    labels['a'][0, 0] = 77
    voc = _tree(tmp_path, labels)
    config = str(tmp_path / 'cfg.py')
    _cfg(voc).dump(config)
    with open(config, 'a') as f:
        f.write("\ndefault_scope = 'fcn_mm'\n")
    with pytest.raises(LabelCheckError, match=r'a\.png: \[77\]'):
        setup_train_config(config, work_dir=str(tmp_path / 'work'))
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    monkeypatch.setattr(sys, 'argv', ['check_dataset.py', config])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(osp.join(repo, 'tools', 'misc', 'check_dataset.py'),
                       run_name='__main__')
    out = capsys.readouterr().out
    assert info.value.code == 1, out
    assert 'a.png: [77]' in out
    assert 'train_dataloader.dataset: 4 of 4 masks checked, 1 error(s), 0 warning(s)' in out
