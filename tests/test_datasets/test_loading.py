"""LoadImageFromFile / LoadAnnotations: exact indices, and every bad input's message."""
import os.path as osp

import cv2
import numpy as np
import pytest
from PIL import Image

from fcn_mm.registry import TRANSFORMS
from voc_layout import block_label, save_label_png


def _load(img_path, seg_path, num_classes=21, **kwargs):
    results = dict(img_path=img_path, seg_map_path=seg_path, num_classes=num_classes,
                   reduce_zero_label=False)
    results = TRANSFORMS.build(dict(type='LoadImageFromFile'))(results)
    return TRANSFORMS.build(dict(type='LoadAnnotations', **kwargs))(results)


@pytest.fixture
def files(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'a.jpg'), img)
    label = block_label(20, 30, range(21), block=4)
    return tmp_path, label


@pytest.mark.parametrize('mode', ['P', 'L'])
def test_label_is_written_indices(files, mode):
    tmp, label = files
    label[0, :5] = [0, 20, 255, 7, 1]
    save_label_png(str(tmp / 'a.png'), label, mode)
    assert Image.open(tmp / 'a.png').mode == mode
    out = _load(str(tmp / 'a.jpg'), str(tmp / 'a.png'))
    assert out['gt_seg_map'].dtype == np.uint8
    np.testing.assert_array_equal(out['gt_seg_map'], label)
    assert out['img'].shape == (20, 30, 3) and out['ori_shape'] == (20, 30)
    assert 'gt_seg_map' in out['seg_fields']


def test_reduce_zero_label(files):
    tmp, _ = files
    label = np.zeros((20, 30), np.uint8)
    label[:, 10:] = 5
    label[:, 20:] = 255
    save_label_png(str(tmp / 'a.png'), label)
    out = _load(str(tmp / 'a.jpg'), str(tmp / 'a.png'), reduce_zero_label=True)
    expected = np.where(label == 0, 255, np.where(label == 255, 255, label - 1))
    np.testing.assert_array_equal(out['gt_seg_map'], expected)


def test_missing_files(files):
    tmp, label = files
    with pytest.raises(FileNotFoundError, match='Image file not found: .*nope.jpg'):
        _load(str(tmp / 'nope.jpg'), str(tmp / 'a.png'))
    with pytest.raises(FileNotFoundError, match='Label file not found: .*nope.png'):
        _load(str(tmp / 'a.jpg'), str(tmp / 'nope.png'))


def test_unreadable_and_truncated_image(files):
    tmp, label = files
    save_label_png(str(tmp / 'a.png'), label)
    (tmp / 'bad.jpg').write_bytes(b'this is not an image at all')
    with pytest.raises(ValueError, match='cannot be decoded.*bad.jpg'):
        _load(str(tmp / 'bad.jpg'), str(tmp / 'a.png'))
    data = (tmp / 'a.jpg').read_bytes()
    (tmp / 'cut.jpg').write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(ValueError, match='truncated.*cut.jpg'):
        _load(str(tmp / 'cut.jpg'), str(tmp / 'a.png'))


def test_unreadable_and_truncated_label(files):
    tmp, label = files
    (tmp / 'bad.png').write_bytes(b'\x89PNG garbage')
    with pytest.raises(ValueError, match='Label file cannot be decoded.*bad.png'):
        _load(str(tmp / 'a.jpg'), str(tmp / 'bad.png'))
    save_label_png(str(tmp / 'a.png'), label)
    data = (tmp / 'a.png').read_bytes()
    (tmp / 'cut.png').write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match='cut.png'):
        _load(str(tmp / 'a.jpg'), str(tmp / 'cut.png'))


def test_size_mismatch(files):
    tmp, _ = files
    save_label_png(str(tmp / 'small.png'), np.zeros((10, 30), np.uint8))
    with pytest.raises(ValueError, match=r'small.png has size .*\(10, 30\).*a.jpg has '
                       r'\(20, 30\)'):
        _load(str(tmp / 'a.jpg'), str(tmp / 'small.png'))


def test_bad_label_values(files):
    tmp, label = files
    label[3, 3] = 21
    label[4, 4] = 100
    save_label_png(str(tmp / 'a.png'), label)
    with pytest.raises(ValueError, match=r'a.png has values \[21, 100\].*< 21 nor 255'):
        _load(str(tmp / 'a.jpg'), str(tmp / 'a.png'))
    # the transform arg overrides the dataset's number of classes
    out = _load(str(tmp / 'a.jpg'), str(tmp / 'a.png'), num_classes=101)
    assert out['gt_seg_map'][4, 4] == 100


def test_colour_label_rejected(files):
    tmp, label = files
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp / 'rgb.png')
    with pytest.raises(ValueError, match='rgb.png is a "RGB" image; expected'):
        _load(str(tmp / 'a.jpg'), str(tmp / 'rgb.png'))


def test_num_classes_required(files):
    tmp, label = files
    save_label_png(str(tmp / 'a.png'), label)
    load = TRANSFORMS.build(dict(type='LoadAnnotations'))
    with pytest.raises(KeyError, match='num_classes'):
        load(dict(seg_map_path=osp.join(tmp, 'a.png')))
