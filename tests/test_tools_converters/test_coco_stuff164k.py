"""COCO-Stuff 164k converter on generated stuffthingmaps."""
import os
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
from PIL import Image

from fcn_mm.datasets.converters.coco_stuff import convert_coco_stuff164k

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# COCO ids (0-based) of the 11 thing categories without annotations
UNUSED = [11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90]
# spot values of the published 164k table (COCO id -> train id)
SPOTS = {0: 0, 10: 10, 12: 11, 24: 23, 26: 24, 27: 25, 30: 26, 43: 39, 45: 40, 64: 59,
         66: 60, 69: 61, 71: 62, 81: 72, 83: 73, 89: 79, 91: 80, 92: 81, 181: 170, 255: 255}


def _tree(root, masks):
    for split, items in masks.items():
        for folder in ('images', 'annotations'):
            os.makedirs(osp.join(root, folder, split), exist_ok=True)
        for stem, mask in items.items():
            Image.new('RGB', (4, 4)).save(osp.join(root, 'images', split, stem + '.jpg'))
            Image.fromarray(mask, 'L').save(osp.join(root, 'annotations', split, stem + '.png'))


def test_mapping_and_cli(tmp_path, monkeypatch, capsys):
    root = str(tmp_path / 'coco_stuff164k')
    every = np.array(list(range(182)) + [255], np.uint8).reshape(3, 61)
    _tree(root, dict(train2017={'000000000009': every},
                     val2017={'000000000139': np.full((2, 2), 91, np.uint8)}))
    monkeypatch.setattr(sys, 'argv', ['coco_stuff164k.py', root])
    runpy.run_path(osp.join(REPO, 'tools/dataset_converters/coco_stuff164k.py'),
                   run_name='__main__')
    assert 'converted train2017: 1 masks, val2017: 1 masks' in capsys.readouterr().out
    out = np.asarray(Image.open(osp.join(root, 'annotations/train2017',
                                         '000000000009_labelTrainIds.png')))
    got = dict(zip(every.ravel().tolist(), out.ravel().tolist()))
    assert all(got[k] == v for k, v in SPOTS.items()), {k: got[k] for k in SPOTS}
    assert all(got[k] == 255 for k in UNUSED)
    assert sorted(set(got.values()) - {255}) == list(range(171))
    # increasing ids keep their order
    used = [got[k] for k in range(182) if k not in UNUSED]
    assert used == list(range(171))
    val = np.asarray(Image.open(osp.join(root, 'annotations/val2017',
                                         '000000000139_labelTrainIds.png')))
    assert (val == 80).all()
    # a second run skips its own outputs
    assert convert_coco_stuff164k(root) == dict(train2017=1, val2017=1)


def test_errors(tmp_path):
    root = str(tmp_path / 'cs')
    with pytest.raises(FileNotFoundError, match='COCO-Stuff folder not found'):
        convert_coco_stuff164k(root)
    _tree(root, dict(train2017={'1': np.zeros((2, 2), np.uint8)}))
    with pytest.raises(FileNotFoundError, match=r'folder .*annotations/val2017 is missing; '
                       r'expected .*\{images,annotations\}/\{train2017,val2017\}'):
        convert_coco_stuff164k(root)
    _tree(root, dict(val2017={'2': np.full((2, 2), 200, np.uint8)}))
    with pytest.raises(ValueError, match=r'val2017/2.png: values \[200\] are no COCO-Stuff '
                       r'ids \(a stuffthingmaps PNG holds 0..181 and 255\)'):
        convert_coco_stuff164k(root)
    os.remove(osp.join(root, 'images', 'val2017', '2.jpg'))
    with pytest.raises(FileNotFoundError, match=r'1 of 1 masks of .*val2017 have no image'):
        convert_coco_stuff164k(root)
    Image.new('RGB', (2, 2)).save(osp.join(root, 'annotations', 'train2017', '1.png'))
    with pytest.raises(ValueError, match=r'train2017/1.png: a "RGB" image'):
        convert_coco_stuff164k(root)
