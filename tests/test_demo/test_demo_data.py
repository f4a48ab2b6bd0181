"""The demo data generator: deterministic, VOC layout, and not solvable by colour alone."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from fcn_mm.datasets.demo_data import DEMO_CLASSES, DEMO_PALETTE, prepare_demo_data

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(REPO, 'configs', 'fcn', 'fcn_r18-d8_demo.py')
SMALL = dict(num_train=6, num_val=3, image_size=48, seed=3)


def _files(root):
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = f.read()
    return out


def test_generation_is_deterministic_and_in_voc_layout(tmp_path):
    first = prepare_demo_data(str(tmp_path / 'a'), **SMALL)
    second = prepare_demo_data(str(tmp_path / 'b'), **SMALL)
    files_a, files_b = _files(first), _files(second)
    assert files_a == files_b
    assert sorted(files_a) == sorted(
        ['ImageSets/Segmentation/train.txt', 'ImageSets/Segmentation/val.txt',
         'demo_data.json']
        + [f'JPEGImages/{s}_{i:04d}.jpg' for s, n in (('train', 6), ('val', 3))
           for i in range(n)]
        + [f'SegmentationClass/{s}_{i:04d}.png' for s, n in (('train', 6), ('val', 3))
           for i in range(n)])
    assert files_a['ImageSets/Segmentation/val.txt'] == b'val_0000\nval_0001\nval_0002\n'
    seen = set()
    for i in range(6):
        label = Image.open(osp.join(first, 'SegmentationClass', f'train_{i:04d}.png'))
        assert label.mode == 'P' and label.size == (48, 48)
        assert label.getpalette()[:18] == [c for rgb in DEMO_PALETTE for c in rgb]
        seen |= set(np.unique(np.array(label)).tolist())
        image = cv2.imread(osp.join(first, 'JPEGImages', f'train_{i:04d}.jpg'))
        assert image.shape == (48, 48, 3)
    assert 0 in seen and len(seen) >= 3 and seen <= set(range(len(DEMO_CLASSES)))


def test_complete_data_is_kept_and_changed_parameters_regenerate(tmp_path):
    root = str(tmp_path / 'demo')
    prepare_demo_data(root, **SMALL)
    stamp = osp.join(root, 'demo_data.json')
    mtime = os.stat(stamp).st_mtime_ns
    prepare_demo_data(root, **SMALL)
    assert os.stat(stamp).st_mtime_ns == mtime
    prepare_demo_data(root, **{**SMALL, 'num_val': 2})
    with open(stamp) as f:
        assert json.load(f)['num_val'] == 2
    assert sorted(os.listdir(osp.join(root, 'JPEGImages')))[-1] == 'val_0001.jpg'
    os.remove(osp.join(root, 'SegmentationClass', 'val_0001.png'))  # incomplete
    prepare_demo_data(root, **{**SMALL, 'num_val': 2})
    assert osp.isfile(osp.join(root, 'SegmentationClass', 'val_0001.png'))
    assert not [p for p in os.listdir(tmp_path) if '.tmp-' in p]


def test_foreign_folder_and_bad_arguments_raise(tmp_path):
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'keep.txt').write_text('user data')
    with pytest.raises(FileExistsError, match='not demo data'):
        prepare_demo_data(str(tmp_path / 'mine'), **SMALL)
    assert (tmp_path / 'mine' / 'keep.txt').read_text() == 'user data'
    with pytest.raises(ValueError, match='demo_data.num_train'):
        prepare_demo_data(str(tmp_path / 'x'), **{**SMALL, 'num_train': 0})
    with pytest.raises(ValueError, match='demo_data.image_size'):
        prepare_demo_data(str(tmp_path / 'x'), **{**SMALL, 'image_size': 12.5})


def _load_split(root, split):
    with open(osp.join(root, 'ImageSets', 'Segmentation', split + '.txt')) as f:
        ids = f.read().split()
    images = np.stack([cv2.imread(osp.join(root, 'JPEGImages', i + '.jpg')) for i in ids])
    labels = np.stack([np.array(Image.open(osp.join(root, 'SegmentationClass', i + '.png')))
                       for i in ids])
    return images.reshape(-1, 3).astype(np.float32), labels.reshape(-1).astype(np.int64)


def _miou(labels, pred, num_classes):
    """Mean IoU over classes present in labels or prediction, from a confusion matrix."""
    cm = np.bincount(labels * num_classes + pred, minlength=num_classes ** 2)
    cm = cm.reshape(num_classes, num_classes)
    union = cm.sum(0) + cm.sum(1) - np.diag(cm)
    return float(np.mean(np.diag(cm)[union > 0] / union[union > 0]))


def test_colour_alone_does_not_solve_the_demo_data(tmp_path):
    # every image has its own seeded generator, so with fewer training images the
    # val split and the first training images are those of the config's data set
    demo_cfg = Config.fromfile(DEMO_CONFIG).demo_data
    root = prepare_demo_data(**{**demo_cfg, 'data_root': str(tmp_path / 'demo'),
                                'num_train': 300})
    train_x, train_y = _load_split(root, 'train')
    val_x, val_y = _load_split(root, 'val')
    num = len(DEMO_CLASSES)
    assert set(np.unique(val_y)) == set(range(num))
    # nearest class-mean colour
    means = np.stack([train_x[train_y == c].mean(0) for c in range(num)])
    dist = (means ** 2).sum(1)[None] - 2 * val_x @ means.T  # + |x|^2, same for all
    assert _miou(val_y, dist.argmin(1), num) < 0.40
    # a stronger colour-only rule: the most frequent class of each colour bin (16^3)
    bins = lambda x: (x // 16).astype(np.int64) @ np.array([256, 16, 1])  # noqa: E731
    counts = np.bincount(bins(train_x) * num + train_y, minlength=4096 * num)
    lookup = counts.reshape(4096, num).argmax(1)
    assert _miou(val_y, lookup[bins(val_x)], num) < 0.40


def test_images_do_not_depend_on_the_split_sizes(tmp_path):
    small = _files(prepare_demo_data(str(tmp_path / 'a'), **SMALL))
    large = _files(prepare_demo_data(str(tmp_path / 'b'), **{**SMALL, 'num_train': 8}))
    for name, data in small.items():
        if name.startswith(('JPEGImages', 'SegmentationClass')):
            assert large[name] == data, name
