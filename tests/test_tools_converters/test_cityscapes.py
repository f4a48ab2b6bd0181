"""Cityscapes converter on generated labelIds PNGs and polygon files."""
import json
import os
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
from PIL import Image

from fcn_mm.datasets.converters.cityscapes import convert_cityscapes

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# The published table (cityscapesScripts labels.py), transcribed as: the label ids of
# train ids 0..18 in order; every other id 0..33 is ignored (255).
TRAIN_CLASS_IDS = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]


def expected_train_ids(ids):
    out = np.full(np.shape(ids), 255, np.uint8)
    for train_id, label_id in enumerate(TRAIN_CLASS_IDS):
        out[np.asarray(ids) == label_id] = train_id
    return out


def _gt(root, split, city, frame):
    folder = osp.join(root, 'gtFine', split, city)
    os.makedirs(folder, exist_ok=True)
    return osp.join(folder, f'{city}_000000_{frame:06d}_gtFine')


def _image(root, split, city, frame):
    folder = osp.join(root, 'leftImg8bit', split, city)
    os.makedirs(folder, exist_ok=True)
    Image.new('RGB', (17, 2)).save(osp.join(folder, f'{city}_000000_{frame:06d}_leftImg8bit.png'))


def _read(path):
    with Image.open(path) as img:
        assert img.mode == 'L'
        return np.asarray(img)


POLYGONS = dict(imgHeight=6, imgWidth=8, objects=[
    dict(label='road', polygon=[[0, 0], [7, 0], [7, 5], [0, 5]]),      # everything
    dict(label='cargroup', polygon=[[1, 1], [5, 1], [5, 3], [1, 3]]),  # -> car
    dict(label='person', polygon=[[4, 2], [6, 2], [6, 4], [4, 4]]),    # over the car
    dict(label='sky', polygon=[[0, 0], [7, 0], [7, 5], [0, 5]], deleted=1),
    dict(label='license plate', polygon=[[0, 0], [2, 0], [2, 1], [0, 1]]),
    dict(label='polegroup', polygon=[[7, 4], [7, 5], [6, 5]]),        # its own label
])


def test_label_ids_and_polygons_to_train_ids(tmp_path):
    root = str(tmp_path / 'cityscapes')
    all_ids = np.arange(34, dtype=np.uint8).reshape(2, 17)
    png = _gt(root, 'train', 'aachen', 19)
    Image.fromarray(all_ids, 'L').save(png + '_labelIds.png')
    with open(png + '_polygons.json', 'w') as f:  # the PNG wins over it
        json.dump(dict(imgHeight=2, imgWidth=17, objects=[]), f)
    _image(root, 'train', 'aachen', 19)
    poly = _gt(root, 'val', 'lindau', 7)
    with open(poly + '_polygons.json', 'w') as f:
        json.dump(POLYGONS, f)
    counts = convert_cityscapes(root)
    assert counts == dict(converted=2, from_polygons=1, train=1, val=1)
    np.testing.assert_array_equal(_read(png + '_labelTrainIds.png'),
                                  expected_train_ids(all_ids))
    # independently: road (0) everywhere, car (13) rows 1-3 x 1-5 with the outline,
    # person (11) over it at rows 2-4 x 4-6, polegroup (255) the corner triangle
    expected = np.zeros((6, 8), np.uint8)
    expected[1:4, 1:6] = 13
    expected[2:5, 4:7] = 11
    expected[4, 7] = expected[5, 6:8] = 255
    np.testing.assert_array_equal(_read(poly + '_labelTrainIds.png'), expected)
    assert open(osp.join(root, 'train.txt')).read() == 'aachen/aachen_000000_000019\n'
    assert open(osp.join(root, 'val.txt')).read() == 'lindau/lindau_000000_000007\n'


def test_errors_name_folder_file_and_expectation(tmp_path):
    root = str(tmp_path / 'cs')
    os.makedirs(root)
    with pytest.raises(FileNotFoundError, match=r'cs: no gtFine folder; expected .*/gtFine/'):
        convert_cityscapes(root)
    os.makedirs(osp.join(root, 'gtFine', 'train'))
    with pytest.raises(FileNotFoundError, match=r'no \*_gtFine_labelIds.png or '
                       r'\*_gtFine_polygons.json file'):
        convert_cityscapes(root)
    with pytest.raises(FileNotFoundError, match='looks like the gtFine folder itself'):
        convert_cityscapes(osp.join(root, 'gtFine'))
    gt = _gt(root, 'train', 'bonn', 1)
    Image.fromarray(np.full((2, 3), 40, np.uint8), 'L').save(gt + '_labelIds.png')
    with pytest.raises(ValueError, match=r'bonn_000000_000001_gtFine_labelIds.png: values '
                       r'\[40\] are no Cityscapes label ids \(expected 0..33'):
        convert_cityscapes(root)
    os.remove(gt + '_labelIds.png')
    with open(gt + '_polygons.json', 'w') as f:
        json.dump(dict(imgHeight=2, imgWidth=3, objects=[dict(label='spaceship',
                                                              polygon=[[0, 0], [1, 1]])]), f)
    with pytest.raises(ValueError, match='polygons.json: unknown Cityscapes label "spaceship"'):
        convert_cityscapes(root)
    os.remove(gt + '_polygons.json')
    Image.new('RGB', (3, 2)).save(gt + '_color.png')
    with pytest.raises(FileNotFoundError, match='1 annotated images have neither'):
        convert_cityscapes(root)


def test_cli_nproc_and_images_without_annotation(tmp_path, monkeypatch, capfd):
    root = str(tmp_path / 'cityscapes')
    for frame, label_id in ((1, 7), (2, 11), (3, 26)):  # road, building, car
        gt = _gt(root, 'train', 'ulm', frame)
        Image.fromarray(np.full((2, 17), label_id, np.uint8), 'L').save(gt + '_labelIds.png')
        _image(root, 'train', 'ulm', frame)
    out = str(tmp_path / 'lists')
    monkeypatch.setattr(sys, 'argv', ['cityscapes.py', root, '--nproc', '2', '--out-dir', out])
    runpy.run_path(osp.join(REPO, 'tools/dataset_converters/cityscapes.py'),
                   run_name='__main__')
    stdout = capfd.readouterr().out
    assert 'converted 3 annotations (0 drawn from polygons); train.txt: 3' in stdout
    assert open(osp.join(out, 'train.txt')).read().split() == [
        f'ulm/ulm_000000_00000{i}' for i in (1, 2, 3)]
    for frame, train_id in ((1, 0), (2, 2), (3, 13)):
        assert (_read(_gt(root, 'train', 'ulm', frame) + '_labelTrainIds.png') == train_id).all()
    _image(root, 'train', 'ulm', 4)
    with pytest.raises(FileNotFoundError, match=r'1 images of .*leftImg8bit have no '
                       r'annotation in .*gtFine, e.g. \[.*ulm_000000_000004_leftImg8bit.png'):
        convert_cityscapes(root)
