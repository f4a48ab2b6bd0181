"""PASCAL Context converter on a tiny generated trainval_merged.json."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_api

from fcn_mm.datasets.converters.pascal_context import convert_pascal_context

# The category ids of MMSegmentation's converter (459-class ids of the 59 classes and 0),
# in its order; the label of an id is its rank among them
MMSEG_IDS = [0, 2, 259, 260, 415, 324, 9, 258, 144, 18, 19, 22, 23, 397, 25, 284, 158, 159,
             416, 33, 162, 420, 454, 295, 296, 427, 44, 45, 46, 308, 59, 440, 445, 31, 232,
             65, 354, 424, 68, 326, 72, 458, 34, 207, 80, 355, 85, 347, 220, 349, 360, 98,
             187, 104, 105, 366, 189, 368, 113, 115]
H, W = 6, 8


def _rle(m, compressed=True):
    if compressed:
        rle = mask_api.encode(np.asfortranarray(m.astype(np.uint8)))
        return dict(size=rle['size'], counts=rle['counts'].decode())
    flat, counts, value, run = m.T.ravel().astype(np.uint8), [], 0, 0  # column-major runs
    for v in flat:
        if v == value:
            run += 1
        else:
            counts.append(run)
            value, run = v, 1
    counts.append(run)
    return dict(size=[H, W], counts=counts)


def _devkit(tmp_path, annotations, images=(('2008_000001', 'train'), ('2008_000002', 'val'))):
    devkit = tmp_path / 'VOCdevkit'
    jpeg = devkit / 'VOC2010' / 'JPEGImages'
    jpeg.mkdir(parents=True)
    for name, _ in images:
        Image.new('RGB', (W, H)).save(jpeg / f'{name}.jpg')
    data = dict(images=[dict(image_id=i, file_name=f'{n}.jpg', height=H, width=W, phase=p)
                        for i, (n, p) in enumerate(images)],
                annos_segmentation=annotations, categories=[])
    path = devkit / 'VOC2010' / 'trainval_merged.json'
    path.write_text(json.dumps(data))
    return str(devkit), str(path)


def test_annotations_to_labels_and_splits(tmp_path):
    a, b, c = (np.zeros((H, W), bool) for _ in range(3))
    a[:, :5] = True
    b[2:5, 3:7] = True   # over a where they meet
    c[0, :] = True
    anns = [dict(id=1, image_id=0, category_id=2, segmentation=_rle(a)),
            dict(id=2, image_id=0, category_id=458, segmentation=_rle(b, compressed=False)),
            dict(id=3, image_id=1, category_id=104, segmentation=_rle(c))]
    devkit, json_path = _devkit(tmp_path, anns)
    assert convert_pascal_context(devkit, json_path) == dict(train=1, val=1)
    label = sorted(MMSEG_IDS).index
    expected = np.zeros((H, W), np.uint8)
    expected[a] = label(2)
    expected[b] = label(458)
    out = osp.join(devkit, 'VOC2010', 'SegmentationClassContext')
    np.testing.assert_array_equal(np.asarray(Image.open(osp.join(out, '2008_000001.png'))),
                                  expected)
    assert expected.max() == 59 and label(2) == 1
    val = np.asarray(Image.open(osp.join(out, '2008_000002.png')))
    assert (val[0] == label(104)).all() and (val[1:] == 0).all()
    splits = osp.join(devkit, 'VOC2010', 'ImageSets', 'SegmentationContext')
    assert open(osp.join(splits, 'train.txt')).read() == '2008_000001\n'
    assert open(osp.join(splits, 'val.txt')).read() == '2008_000002\n'


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'VOC2010/JPEGImages is missing'):
        convert_pascal_context(str(tmp_path / 'nowhere'), 'x.json')
    m = np.ones((H, W), bool)
    devkit, json_path = _devkit(tmp_path, [dict(id=5, image_id=0, category_id=3,
                                                segmentation=_rle(m))])
    with pytest.raises(ValueError, match=r'2008_000001.jpg has category ids \[3\] outside '
                       'the 59 PASCAL Context classes'):
        convert_pascal_context(devkit, json_path)
    with pytest.raises(FileNotFoundError, match='Annotation file not found: .*missing.json'):
        convert_pascal_context(devkit, osp.join(devkit, 'missing.json'))
    bad = osp.join(devkit, 'bad.json')
    with open(bad, 'w') as f:
        json.dump(dict(images=[]), f)
    with pytest.raises(ValueError, match='expected the PASCAL in Detail JSON with "images" '
                       'and "annos_segmentation"'):
        convert_pascal_context(devkit, bad)
    os.remove(osp.join(devkit, 'VOC2010', 'JPEGImages', '2008_000002.jpg'))
    with pytest.raises(FileNotFoundError, match=r"1 images of .* are not in .*JPEGImages, "
                       r"e.g. \['2008_000002.jpg'\]"):
        convert_pascal_context(devkit, json_path)
